"""Renewing a source's tokens without a person, at most once at a time.

A renewal claims the source with a lease (a conditional UPDATE, so it works the same on
SQLite and PostgreSQL and across replicas), re-reads the stored tokens, asks the network,
and commits the new tokens in the same transaction that releases the lease. A refresh token
is therefore never sent twice by two scans. If the process dies between the network's answer
and the commit, the lease runs out and the next scan tries again; a spent single-use refresh
token then fails for good and the source is marked expired with a reason that says so.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import or_, update

from bot.domain import LastError, Status, TokenSet
from bot.oauth.errors import CredentialRejected, TransientError
from bot.services.context import Context
from bot.services.events import SCAN, EventType
from bot.services.measured import counts_renewals
from bot.services.sources import (
    add_credential,
    current_credential,
    decrypt,
    mark_connected,
    record_event,
)
from bot.services.workflow import recovered
from bot.services.workspace_settings import resolve
from bot.store.models import Source, Workspace

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
BACKOFF_START = timedelta(minutes=2)
BACKOFF_MAX = timedelta(hours=2)
# Keep one attempt this far before the access token expires, whatever the backoff says.
LAST_CHANCE = timedelta(minutes=2)


class Renewed(StrEnum):
    RENEWED = "renewed"
    HELD = "held"  # another scan holds the lease
    NOT_DUE = "not_due"
    TRANSIENT = "transient"
    FINAL = "final"


@dataclass(frozen=True)
class RenewalResult:
    outcome: Renewed
    reason: str = ""


def is_due(source: Source, renew_before: timedelta, now: datetime, force: bool = False) -> bool:
    """Renewable, inside its renewal window (or ``force``), and past any backoff."""
    if not source.renewable or source.expires_at is None:
        return False
    if Status(source.status).needs_reconnect:
        return False
    if force:
        return True
    if source.expires_at - now > renew_before:
        return False
    return source.next_attempt_at is None or source.next_attempt_at <= now


def next_attempt(failures: int, now: datetime, expires_at: datetime | None) -> datetime:
    """Exponential backoff that never skips the last chance before the token expires."""
    doublings = min(max(failures - 1, 0), 16)  # BACKOFF_MAX is reached long before
    delay: timedelta = min(BACKOFF_START * 2**doublings, BACKOFF_MAX)
    candidate: datetime = now + delay
    if expires_at is not None:
        last_chance = expires_at - LAST_CHANCE
        if now < last_chance < candidate:
            return last_chance
    return candidate


class RenewalService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @counts_renewals
    async def renew(
        self, source_id: int, *, actor: str = SCAN, force: bool = False
    ) -> RenewalResult:
        """Renew if due (or ``force``); ``actor`` is who asked, for the event log."""
        now = self.ctx.clock.now()
        owner = str(uuid.uuid4())
        stale = await self._claim(source_id, owner, now)
        if stale is None:
            return RenewalResult(Renewed.HELD)
        try:
            return await self._renew_claimed(source_id, owner, stale, actor, force)
        finally:
            await self._release(source_id, owner)

    async def _claim(self, source_id: int, owner: str, now: datetime) -> bool | None:
        """Take the lease; None when another holds it, else whether a dead one was taken over."""
        async with self.ctx.db.begin() as session:
            source = await session.get(Source, source_id)
            if source is None:
                return None
            stale = source.lease_until is not None
            result = await session.execute(
                update(Source)
                .where(
                    Source.id == source_id,
                    or_(Source.lease_until.is_(None), Source.lease_until < now),
                )
                .values(lease_owner=owner, lease_until=now + LEASE)
            )
            return stale if result.rowcount else None  # type: ignore[attr-defined]

    async def _renew_claimed(
        self, source_id: int, owner: str, stale: bool, actor: str, force: bool
    ) -> RenewalResult:
        now = self.ctx.clock.now()
        async with self.ctx.read() as session:  # re-read: another scan may have just renewed it
            source = await session.get(Source, source_id)
            credential = await current_credential(session, source_id)
        network = self.ctx.catalogue.get(source.network) if source else None
        if source is None or network is None or credential is None:
            return RenewalResult(Renewed.NOT_DUE)
        if not network.configured or not is_due(source, network.renew_before, now, force):
            return RenewalResult(Renewed.NOT_DUE)
        client = self.ctx.oauth(network)
        try:
            tokens = await client.renew(decrypt(self.ctx, credential), now)
        except TransientError as err:
            if await self._transient(source, err, now, actor):
                return RenewalResult(Renewed.FINAL, err.reason)
            return RenewalResult(Renewed.TRANSIENT, err.reason)
        except CredentialRejected as err:
            reason = err.reason
            if stale:
                reason += " (an earlier renewal was interrupted)"
            await expire(self.ctx, source.id, reason, now, revoked=err.revoked, actor=actor)
            return RenewalResult(Renewed.FINAL, reason)
        async with self.ctx.db.begin() as session:
            fresh = await session.get(Source, source_id)
            assert fresh is not None
            if fresh.lease_owner != owner:  # our lease ran out and someone else took over
                log.warning(
                    "renewal of source %s lost its lease; its answer is discarded", source_id
                )
                return RenewalResult(Renewed.HELD)
            add_credential(session, self.ctx, fresh, tokens, now)
            mark_connected(fresh, network, tokens, now)
            fresh.lease_owner = None
            fresh.lease_until = None
            await record_event(
                session, self.ctx, EventType.RENEWED, fresh, actor, now, expires_at=_iso(tokens)
            )
            await recovered(session, self.ctx, fresh, actor, now)
        log.info("source %s renewed until %s", source_id, tokens.expires_at)
        return RenewalResult(Renewed.RENEWED)

    async def _transient(
        self, source: Source, err: TransientError, now: datetime, actor: str
    ) -> bool:
        """Record a passing failure; True when the failures outlasted the budget and the
        source was expired instead."""
        failing_since = source.failing_since or now
        async with self.ctx.read() as session:
            workspace = await session.get(Workspace, source.workspace_id)
        budget = resolve(workspace, self.ctx.settings).renewal_failure_budget
        if now - failing_since > budget:
            hours = int(budget.total_seconds() // 3600)
            reason = f"{err.reason}; renewal kept failing for {hours} hours"
            return await expire(self.ctx, source.id, reason, now, actor=actor)
        failures = source.failures + 1
        retry_at = next_attempt(failures, now, source.expires_at)
        if err.retry_after is not None:
            retry_at = max(retry_at, now + timedelta(seconds=err.retry_after))
        async with self.ctx.db.begin() as session:
            fresh = await session.get(Source, source.id, populate_existing=True)
            if fresh is None or Status(fresh.status).needs_reconnect:
                return False
            fresh.status = Status.EXPIRING
            fresh.failures = failures
            fresh.failing_since = failing_since
            fresh.next_attempt_at = retry_at
            fresh.last_error = LastError("transient", err.reason, now).to_json()
            fresh.updated_at = now
            if failures == 1:  # a streak starts; later failures of it are not news
                await record_event(
                    session,
                    self.ctx,
                    EventType.RENEWAL_FAILING,
                    fresh,
                    actor,
                    now,
                    kind="transient",
                    reason=err.reason,
                )
        log.info(
            "renewal of source %s failed (%s); next try at %s", source.id, err.reason, retry_at
        )
        return False

    async def _release(self, source_id: int, owner: str) -> None:
        async with self.ctx.db.begin() as session:
            await session.execute(
                update(Source)
                .where(Source.id == source_id, Source.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )


async def expire(
    ctx: Context,
    source_id: int,
    reason: str,
    now: datetime,
    revoked: bool = False,
    actor: str = SCAN,
) -> bool:
    """Start a new expiry episode; False when the source was already expired or revoked.

    The expiry notice is not queued here: the scan gathers the episodes that have none into
    one notice (:meth:`NoticeService.post_pending`), so a crash in between loses nothing.
    """
    status = Status.REVOKED if revoked else Status.EXPIRED
    async with ctx.db.begin() as session:
        result = await session.execute(
            update(Source)
            .where(Source.id == source_id, Source.status.not_in([Status.EXPIRED, Status.REVOKED]))
            .values(
                status=status,
                episode=Source.episode + 1,
                status_changed_at=now,
                updated_at=now,
                last_error=LastError(status.value, reason, now).to_json(),
            )
        )
        changed = bool(result.rowcount)  # type: ignore[attr-defined]
        if changed:
            source = await session.get(Source, source_id, populate_existing=True)
            assert source is not None
            kind = EventType.REVOKED if revoked else EventType.EXPIRED
            await record_event(session, ctx, kind, source, actor, now, reason=reason)
    if changed:
        log.info("source %s %s: %s", source_id, status, reason)
    return changed


def _iso(tokens: TokenSet) -> str | None:
    return tokens.expires_at.isoformat() if tokens.expires_at else None
