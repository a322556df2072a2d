"""The expiry scan: find what died, say so once, and check that live tokens still work."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.domain import LastError, Status
from bot.oauth.client import OAuthClient
from bot.oauth.errors import CredentialRejected, TransientError
from bot.services.context import Context
from bot.services.notices import NoticeService
from bot.services.sources import SourceService, current_credential
from bot.services.workspaces import WorkspaceService
from bot.status import effective_status, expired_reason
from bot.store.models import Source

log = logging.getLogger(__name__)

# How often each live token is shown to the network's identity endpoint.
HEALTH_CHECK_INTERVAL = timedelta(hours=24)


@dataclass
class ScanReport:
    checked: int = 0
    expired: list[str] = field(default_factory=list)
    expiring: list[str] = field(default_factory=list)
    transient: list[str] = field(default_factory=list)
    notices_posted: int = 0

    def summary(self) -> str:
        lines = [
            f"checked {self.checked} source(s)",
            f"expired: {len(self.expired)}"
            + (f" ({', '.join(self.expired)})" if self.expired else ""),
            f"expiring soon: {len(self.expiring)}",
            f"notices posted: {self.notices_posted}",
            f"transient failures: {len(self.transient)}"
            + (f" ({'; '.join(self.transient)})" if self.transient else ""),
        ]
        return "\n".join(lines)


class ScanService:
    def __init__(
        self,
        ctx: Context,
        sources: SourceService,
        workspaces: WorkspaceService,
        notices: NoticeService,
    ) -> None:
        self.ctx = ctx
        self.sources = sources
        self.workspaces = workspaces
        self.notices = notices

    async def run(self) -> ScanReport:
        """One scan of every workspace; safe to run concurrently with another."""
        report = ScanReport()
        async with self.ctx.db() as session:
            live = (
                await session.scalars(
                    select(Source).where(Source.status.not_in([Status.EXPIRED, Status.REVOKED]))
                )
            ).all()
        for source in live:
            report.checked += 1
            await self._check(source, report)
        for workspace in await self.workspaces.all():
            report.notices_posted += await self.notices.post_pending(workspace)
        return report

    async def _check(self, source: Source, report: ScanReport) -> None:
        now = self.ctx.clock.now()
        title = self.ctx.catalogue.title(source.network)
        label = f"{title} · {source.name}"
        status = effective_status(
            source.status, source.expires_at, now, self.ctx.settings.expiry_warning_days
        )
        if status is Status.EXPIRED and source.expires_at is not None:
            if await self._expire(
                source.id, expired_reason(title, source.expires_at), "expired", now
            ):
                report.expired.append(label)
            return
        if self._health_check_due(source, now):
            try:
                await self._health_check(source)
            except CredentialRejected as err:
                if await self._expire(source.id, err.reason, "rejected", now):
                    report.expired.append(label)
                return
            except TransientError as err:
                report.transient.append(f"{label}: {err.reason}")
                await self._record(source.id, LastError("transient", err.reason, now), now)
        if status is Status.EXPIRING:
            report.expiring.append(label)
        if source.status != status:
            async with self.ctx.db.begin() as session:
                await session.execute(
                    update(Source)
                    .where(Source.id == source.id, Source.status == source.status)
                    .values(status=status, status_changed_at=now)
                )

    def _health_check_due(self, source: Source, now: datetime) -> bool:
        network = self.ctx.catalogue.get(source.network)
        if network is None or not network.configured:
            return False
        return source.checked_at is None or now - source.checked_at >= HEALTH_CHECK_INTERVAL

    async def _health_check(self, source: Source) -> None:
        network = self.ctx.catalogue.get(source.network)
        assert network is not None
        async with self.ctx.db() as session:
            credential = await current_credential(session, source.id)
        if credential is None:
            raise CredentialRejected(f"{network.title} connection has no stored token")
        client = OAuthClient(network, self.ctx.settings.redirect_uri(network.name))
        await client.identity(self.ctx.cipher.decrypt(credential.access_token))
        async with self.ctx.db.begin() as session:
            await session.execute(
                update(Source)
                .where(Source.id == source.id)
                .values(checked_at=self.ctx.clock.now(), last_error=None)
            )

    async def _expire(self, source_id: int, reason: str, kind: str, now: datetime) -> bool:
        """Start a new expiry episode; False when another scan already did."""
        async with self.ctx.db.begin() as session:
            result = await session.execute(
                update(Source)
                .where(
                    Source.id == source_id, Source.status.not_in([Status.EXPIRED, Status.REVOKED])
                )
                .values(
                    status=Status.EXPIRED,
                    episode=Source.episode + 1,
                    status_changed_at=now,
                    updated_at=now,
                    last_error=LastError(kind, reason, now).to_json(),
                )
            )
        changed = bool(result.rowcount)  # type: ignore[attr-defined]
        if changed:
            log.info("source %s expired: %s", source_id, reason)
        return changed

    async def _record(self, source_id: int, error: LastError, now: datetime) -> None:
        async with self.ctx.db.begin() as session:
            await session.execute(
                update(Source)
                .where(Source.id == source_id)
                .values(last_error=error.to_json(), updated_at=now)
            )
