"""Handing a source's token to a tool that publishes with it (the API's token endpoint).

A token inside its renewal window (or any, with ``force_refresh``) is renewed first, under the
lease the scan uses: of many concurrent calls for one due source, one renews at the network
and the others wait for it and get the new token. Whoever reads a token is recorded.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.domain import SourceInfo
from bot.services.attempts import ConnectRefused
from bot.services.context import Context
from bot.services.links import ConnectLink, LinkService
from bot.services.notices import NoticeService
from bot.services.renewal import RenewalResult, RenewalService, Renewed, is_due
from bot.services.sources import SourceService, current_credential, decrypt, renews_by_itself
from bot.services.workspaces import WorkspaceService
from bot.store.models import Source

log = logging.getLogger(__name__)

# How long a call waits for another's renewal of the same source before giving up.
LEASE_WAIT = 15.0
LEASE_POLL = 0.05
# A source's last read is written at most this often, so reads stay reads.
READ_RECORD_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class TokenAnswer:
    access_token: str
    token_type: str
    expires_at: datetime | None
    scopes: list[str]
    account_id: str
    stale: bool  # renewal is failing for a passing reason; this token still works for now


class NotFound(Exception):
    """No such source in the caller's workspace."""


class NeedsReconnect(Exception):
    """Only a person can bring the source back; ``link`` lets one do it (None when the
    network's app is not configured, so no link can be made)."""

    def __init__(self, source: SourceInfo, reason: str, link: ConnectLink | None) -> None:
        super().__init__(reason)
        self.source = source
        self.reason = reason
        self.link = link


class TemporarilyUnavailable(Exception):
    """The token has expired and renewing it fails for a passing reason; try after
    ``retry_after`` seconds."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class TokenService:
    def __init__(
        self,
        ctx: Context,
        sources: SourceService,
        renewal: RenewalService,
        links: LinkService,
        notices: NoticeService,
        workspaces: WorkspaceService,
    ) -> None:
        self.ctx = ctx
        self.sources = sources
        self.renewal = renewal
        self.links = links
        self.notices = notices
        self.workspaces = workspaces

    async def read(
        self, workspace_id: str, source_id: int, actor: str, force_refresh: bool = False
    ) -> TokenAnswer:
        info = await self._source(workspace_id, source_id)
        if info.status.needs_reconnect:
            raise await self._needs_reconnect(info, actor)
        outcome = await self._renew_if_due(info, actor, force_refresh)
        if outcome is not None and outcome.outcome is Renewed.FINAL:
            workspace = await self.workspaces.ensure(workspace_id)
            await self.notices.post_pending(workspace)  # the notice need not wait for a scan
            fresh = await self._source(workspace_id, source_id)
            raise await self._needs_reconnect(fresh, actor)
        now = self.ctx.clock.now()
        async with self.ctx.read() as session:
            source = await session.get(Source, source_id)
            credential = await current_credential(session, source_id)
        if source is None or credential is None:
            raise NotFound
        tokens = decrypt(self.ctx, credential)
        failing = source.failures > 0 and source.last_error is not None
        if tokens.expires_at is not None and tokens.expires_at <= now:
            if failing and source.last_error is not None:
                retry_at = source.next_attempt_at or now
                seconds = max(int((retry_at - now).total_seconds()), 1)
                raise TemporarilyUnavailable(str(source.last_error["reason"]), seconds)
            raise await self._needs_reconnect(await self._source(workspace_id, source_id), actor)
        await self._record_read(source, actor, now)
        return TokenAnswer(
            access_token=tokens.access_token,
            token_type="Bearer",  # noqa: S106 - the OAuth token type, not a secret
            expires_at=tokens.expires_at,
            scopes=(tokens.scopes or "").replace(",", " ").split(),
            account_id=source.account_id,
            stale=failing,
        )

    async def _source(self, workspace_id: str, source_id: int) -> SourceInfo:
        info = await self.sources.get(workspace_id, source_id)
        if info is None:
            raise NotFound
        return info

    async def _renew_if_due(
        self, info: SourceInfo, actor: str, force: bool
    ) -> RenewalResult | None:
        """Renew when due; while another holds the lease, wait for it and look again."""
        network = self.ctx.catalogue.get(info.network)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LEASE_WAIT
        while True:
            async with self.ctx.read() as session:
                source = await session.get(Source, info.id)
            if source is None or network is None or not renews_by_itself(source, network):
                return None
            now = self.ctx.clock.now()
            if not is_due(source, network.renew_before, now, force):
                return None
            result = await self.renewal.renew(info.id, actor=actor, force=force)
            if result.outcome is not Renewed.HELD:
                return result
            # Another call or scan is renewing it: its answer is ours too.
            if not await self._wait_for_lease(info.id, deadline):
                return None
            force = False  # the renewal we waited for is the refresh that was asked for

    async def _wait_for_lease(self, source_id: int, deadline: float) -> bool:
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            async with self.ctx.read() as session:
                lease = await session.scalar(
                    select(Source.lease_until).where(Source.id == source_id)
                )
            if lease is None or lease < self.ctx.clock.now():
                return True
            await asyncio.sleep(LEASE_POLL)
        log.warning("gave up waiting for the renewal of source %s", source_id)
        return False

    async def _needs_reconnect(self, info: SourceInfo, actor: str) -> NeedsReconnect:
        reason = (
            info.last_error.reason
            if info.last_error
            else f"{info.network_title} connection needs reconnecting"
        )
        try:
            link = await self.links.start(info.workspace_id, None, "", info.id, actor=actor)
        except ConnectRefused:
            return NeedsReconnect(info, reason, None)
        return NeedsReconnect(info, reason, link)

    async def _record_read(self, source: Source, actor: str, now: datetime) -> None:
        recent = (
            source.last_read_at is not None and now - source.last_read_at < READ_RECORD_INTERVAL
        )
        if recent and source.last_read_by == actor:
            return
        async with self.ctx.db.begin() as session:
            await session.execute(
                update(Source)
                .where(Source.id == source.id)
                .values(last_read_at=now, last_read_by=actor)
            )
