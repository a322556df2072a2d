"""Renewing a source's tokens without a person, at most once at a time.

A renewal holds the source's lease: the scan's claim (:mod:`bot.services.scan`), or one taken
here with a conditional UPDATE (the API's token endpoint), so it works the same on SQLite and
PostgreSQL and across replicas. Lease times are the lease clock's (the database's in
production: :mod:`bot.services.leases`). It re-reads the stored tokens, asks the network, and
commits the new tokens in the same transaction that releases the lease. A refresh token is
therefore never sent twice by two scans. If the process dies between the network's answer and
the commit, the lease runs out and the next scan tries again; a spent single-use refresh token
then fails for good and the source is marked expired with a reason that says so.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import LastError, Status, TokenSet
from bot.oauth.errors import CredentialRejected, NetworkError, TransientError
from bot.services.context import Context
from bot.services.events import SCAN, EventType
from bot.services.measured import counts_renewals
from bot.services.pacing import NetworkPacer
from bot.services.sources import (
    add_credential,
    current_credential,
    decrypt,
    mark_connected,
    record_event,
)
from bot.services.workflow import recovered
from bot.services.workspace_settings import resolve
from bot.store.models import Credential, Source, Workspace

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
    error: NetworkError | None = None  # the network's answer, when it failed


@dataclass(frozen=True)
class Lease:
    """A lease held on a source: its owner, and whether it took over a lease that had run out
    (an earlier renewal interrupted). The scan's claims also carry the source and its current
    credential, read when the lease was taken (nobody changes them while it holds)."""

    owner: str
    stale: bool = False
    source: Source | None = None
    credential: Credential | None = None


T = TypeVar("T")


class Writer(Protocol):
    """Runs a function of a write session in a transaction and returns its result."""

    async def __call__(self, work: Callable[[AsyncSession], Awaitable[T]], /) -> T: ...


@dataclass(frozen=True)
class _Pacing:
    """How the scan wants a renewal's calls and writes done (see :meth:`RenewalService.renew`)."""

    pacer: NetworkPacer | None
    gate: AbstractAsyncContextManager[Any]
    writer: Writer


class Renewable(Protocol):
    """What :func:`is_due` reads: a Source, or a row of the scan's columns."""

    @property
    def renewable(self) -> bool: ...
    @property
    def expires_at(self) -> datetime | None: ...
    @property
    def status(self) -> str: ...
    @property
    def next_attempt_at(self) -> datetime | None: ...


def is_due(source: Renewable, renew_before: timedelta, now: datetime, force: bool = False) -> bool:
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
        self,
        source_id: int,
        *,
        actor: str = SCAN,
        force: bool = False,
        lease: Lease | None = None,
        pacer: NetworkPacer | None = None,
        gate: AbstractAsyncContextManager[Any] | None = None,
        writer: Writer | None = None,
    ) -> RenewalResult:
        """Renew if due (or ``force``); ``actor`` is who asked, for the event log.

        With ``lease`` the caller holds the source's lease and gives it back itself (a
        renewal that succeeds gives it back in its commit); without, one is taken here.
        ``pacer`` paces the network call (and may raise :class:`Paused` before it); ``gate``
        is held around the database work after it (the scan's bound on connections);
        ``writer`` runs the commit of the new tokens (the scan's group commit; by default a
        transaction of its own).
        """
        gate = gate or contextlib.nullcontext()
        paced = _Pacing(pacer, gate, writer or self._own_transaction(gate))
        if lease is not None:
            return await self._renew_claimed(source_id, lease, actor, force, paced)
        owner = str(uuid.uuid4())
        stale = await self._claim(source_id, owner)
        if stale is None:
            return RenewalResult(Renewed.HELD)
        try:
            return await self._renew_claimed(source_id, Lease(owner, stale), actor, force, paced)
        finally:
            await self._release(source_id, owner)

    def _own_transaction(self, gate: AbstractAsyncContextManager[Any]) -> Writer:
        """The default writer: a transaction of its own, under ``gate``."""

        async def write(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
            async with gate, self.ctx.db.begin() as session:
                return await work(session)

        return write

    async def _claim(self, source_id: int, owner: str) -> bool | None:
        """Take the lease; None when another holds it, else whether a dead one was taken over."""
        leases = self.ctx.leases
        async with self.ctx.db.begin() as session:
            lease_until = await session.scalar(
                select(Source.lease_until).where(Source.id == source_id)
            )
            result = await session.execute(
                update(Source)
                .where(
                    Source.id == source_id,
                    or_(Source.lease_until.is_(None), Source.lease_until < leases.now()),
                )
                .values(lease_owner=owner, lease_until=leases.after(LEASE))
            )
            return lease_until is not None if result.rowcount else None  # type: ignore[attr-defined]

    async def _renew_claimed(
        self,
        source_id: int,
        lease: Lease,
        actor: str,
        force: bool,
        paced: _Pacing,
    ) -> RenewalResult:
        now = self.ctx.clock.now()
        source, credential = lease.source, lease.credential
        if source is None:
            async with self.ctx.read() as session:  # another may have just renewed it
                source = await session.get(Source, source_id)
                credential = await current_credential(session, source_id)
        network = self.ctx.catalogue.get(source.network) if source else None
        if source is None or network is None or credential is None:
            return RenewalResult(Renewed.NOT_DUE)
        if not network.configured or not is_due(source, network.renew_before, now, force):
            return RenewalResult(Renewed.NOT_DUE)
        client = self.ctx.oauth(network)
        current = decrypt(self.ctx, credential)
        call = paced.pacer.call(network.name) if paced.pacer else contextlib.nullcontext()
        try:
            async with call:
                tokens = await client.renew(current, now)
        except TransientError as err:
            async with paced.gate:
                if await self._transient(source, err, now, actor):
                    return RenewalResult(Renewed.FINAL, err.reason, err)
            return RenewalResult(Renewed.TRANSIENT, err.reason, err)
        except CredentialRejected as err:
            reason = err.reason
            if lease.stale:
                reason += " (an earlier renewal was interrupted)"
            async with paced.gate:
                await expire(
                    self.ctx,
                    source.id,
                    reason,
                    now,
                    revoked=err.revoked,
                    actor=actor,
                    lease_owner=lease.owner,
                )
            return RenewalResult(Renewed.FINAL, reason, err)

        async def commit(session: AsyncSession) -> RenewalResult:
            fresh = await session.get(Source, source_id)
            assert fresh is not None
            if fresh.lease_owner != lease.owner:  # our lease ran out and someone else took over
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
            return RenewalResult(Renewed.RENEWED)

        result = await paced.writer(commit)
        if result.outcome is Renewed.RENEWED:
            log.info("source %s renewed until %s", source_id, tokens.expires_at)
        return result

    async def _transient(
        self, source: Source, err: TransientError, now: datetime, actor: str
    ) -> bool:
        """Record a passing failure; True when the failures outlasted the budget and the
        source was expired instead."""
        failing_since = source.failing_since or now
        budget = await self._failure_budget(source)
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

    async def _failure_budget(self, source: Source) -> timedelta:
        """How long passing failures may last before the source is expired (the workspace's
        setting)."""
        async with self.ctx.read() as session:
            workspace = await session.get(Workspace, source.workspace_id)
        return resolve(workspace, self.ctx.settings).renewal_failure_budget

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
    lease_owner: str | None = None,
) -> bool:
    """Start a new expiry episode; False when the source was already expired or revoked.

    With ``lease_owner`` the caller's lease is given back in the same transaction: the work
    on the source is over, and a crash right after the commit leaves no lease behind.

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
        if lease_owner is not None:
            await session.execute(
                update(Source)
                .where(Source.id == source_id, Source.lease_owner == lease_owner)
                .values(lease_owner=None, lease_until=None)
            )
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
