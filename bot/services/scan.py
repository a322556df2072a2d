"""The scan: renew what is due, find what died, warn ahead, and say each thing once."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from bot.delivery.outbox import forget_sent
from bot.domain import LastError, Status
from bot.oauth.errors import CredentialRejected, TransientError
from bot.services.context import Context
from bot.services.internal import (
    INTERNAL,
    NOT_ISOLATED,
    UnknownNetwork,
    clear_internal,
    internal_reason,
    record_internal,
)
from bot.services.measured import times_scans
from bot.services.notices import NoChannel, NoticeService
from bot.services.page_offers import forget_offers
from bot.services.renewal import RenewalService, Renewed, expire, is_due
from bot.services.sources import current_credential, decrypt, renews_by_itself
from bot.services.workspaces import WorkspaceService
from bot.status import effective_status, expired_reason
from bot.store.models import ConnectAttempt, Source, slack_oauth_states

log = logging.getLogger(__name__)

# Every live token is shown to its network's identity endpoint about once a day, at most
# this many per network per scan, so that checks spread over the day's scans.
HEALTH_CHECK_INTERVAL = timedelta(hours=24)
HEALTH_CHECKS_PER_NETWORK = 25
ATTEMPT_RETENTION = timedelta(days=1)
SENT_RETENTION = timedelta(days=30)


@dataclass
class ScanReport:
    checked: int = 0
    renewed: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    expiring: list[str] = field(default_factory=list)
    transient: list[str] = field(default_factory=list)
    internal: list[str] = field(default_factory=list)  # the bot failed on these; see the log
    no_channel: list[str] = field(default_factory=list)  # workspaces with news and no channel
    notices_queued: int = 0
    warnings_queued: int = 0

    def summary(self) -> str:
        def named(items: list[str], sep: str = ", ") -> str:
            return f"{len(items)}" + (f" ({sep.join(items)})" if items else "")

        return "\n".join(
            [
                f"checked: {self.checked} source(s)",
                f"renewed: {named(self.renewed)}",
                f"expired: {named(self.expired)}",
                f"expiring soon: {len(self.expiring)}",
                f"notices: {self.notices_queued}",
                f"warnings: {self.warnings_queued}",
                f"transient failures: {named(self.transient, '; ')}",
                f"internal errors: {named(self.internal, '; ')}",
            ]
        )


class ScanService:
    def __init__(
        self,
        ctx: Context,
        workspaces: WorkspaceService,
        notices: NoticeService,
        renewal: RenewalService,
    ) -> None:
        self.ctx = ctx
        self.workspaces = workspaces
        self.notices = notices
        self.renewal = renewal

    @times_scans
    async def run(self) -> ScanReport:
        """One scan of every workspace; safe to run concurrently with another."""
        report = ScanReport()
        # Only workspaces that have the app: an uninstalled one is neither scanned nor told.
        workspaces = await self.workspaces.installed()
        days = {w.id: self.workspaces.settings(w).warning_days for w in workspaces}
        async with self.ctx.read() as session:
            live = (
                await session.scalars(
                    select(Source)
                    .where(
                        Source.status.not_in([Status.EXPIRED, Status.REVOKED]),
                        Source.workspace_id.in_(list(days)),
                    )
                    .order_by(Source.checked_at.is_not(None), Source.checked_at, Source.id)
                )
            ).all()
        health_checks: Counter[str] = Counter()
        for source in live:
            report.checked += 1
            await self._check_alone(source, days[source.workspace_id], report, health_checks)
        for workspace in workspaces:
            try:
                report.notices_queued += await self.notices.post_pending(workspace)
                report.warnings_queued += await self.notices.post_warnings(workspace)
            except NoChannel:
                report.no_channel.append(workspace.id)
            except NOT_ISOLATED:
                raise
            except Exception as err:
                log.exception("scan: the notices of workspace %s failed", workspace.id)
                report.internal.append(f"notices of {workspace.id}: {internal_reason(err)}")
        await self._forget_old()
        return report

    async def _forget_old(self) -> None:
        """Connect attempts are useless once expired (a day of them is kept for support
        questions); events go after EVENT_RETENTION_DAYS; sent outbox rows after a month;
        Slack install states and offers of pages to add once expired; uninstalled workspaces
        after UNINSTALL_RETENTION_DAYS."""
        now = self.ctx.clock.now()
        async with self.ctx.db.begin() as session:
            await session.execute(
                delete(ConnectAttempt).where(ConnectAttempt.expires_at < now - ATTEMPT_RETENTION)
            )
            await self.ctx.events.forget_before(session, now - self.ctx.settings.event_retention)
            await forget_sent(session, now - SENT_RETENTION)
            await forget_offers(session, now)
            naive_now = now.replace(tzinfo=None)  # slack-sdk stores naive UTC
            await session.execute(
                delete(slack_oauth_states).where(slack_oauth_states.c.expire_at < naive_now)
            )
        await self.workspaces.forget_uninstalled(now - self.ctx.settings.uninstall_retention)

    async def _check_alone(
        self,
        source: Source,
        warning_days: tuple[int, ...],
        report: ScanReport,
        health_checks: Counter[str],
    ) -> None:
        """Check one source; whatever breaks in it stays that source's problem."""
        try:
            if source.network not in self.ctx.catalogue:
                raise UnknownNetwork(source.network)
            await self._check(source, warning_days, report, health_checks)
        except NOT_ISOLATED:
            raise
        except Exception as err:
            log.exception("scan: checking source %s failed", source.id)
            reason = internal_reason(err)
            report.internal.append(f"source {source.id} ({source.name}): {reason}")
            await record_internal(self.ctx, source.id, source.last_error, reason)
        else:
            if isinstance(source.last_error, dict) and source.last_error.get("kind") == INTERNAL:
                await clear_internal(self.ctx, source.id)

    async def _check(
        self,
        source: Source,
        warning_days: tuple[int, ...],
        report: ScanReport,
        health_checks: Counter[str],
    ) -> None:
        now = self.ctx.clock.now()
        network = self.ctx.catalogue.get(source.network)
        label = f"{self.ctx.catalogue.title(source.network)} · {source.name}"
        renews = renews_by_itself(source, network, now)
        if renews and network is not None and is_due(source, network.renew_before, now):
            result = await self.renewal.renew(source.id)
            if result.outcome is Renewed.RENEWED:
                report.renewed.append(label)
            elif result.outcome is Renewed.FINAL:
                report.expired.append(label)
            elif result.outcome is Renewed.TRANSIENT:
                report.transient.append(f"{label}: {result.reason}")
                report.expiring.append(label)
            return
        status = effective_status(
            source.status,
            source.expires_at,
            now,
            warning_days,
            renews,
            renewal_ends_at=source.refresh_expires_at,
        )
        if status is Status.EXPIRED and source.expires_at is not None:
            reason = expired_reason(self.ctx.catalogue.title(source.network), source.expires_at)
            if source.last_error and source.status == Status.EXPIRING:
                reason += f" ({source.last_error['reason']})"
            if await expire(self.ctx, source.id, reason, now):
                report.expired.append(label)
            return
        # A renewable source whose token ran out waits for its renewal, not for a check
        # that could only fail with the expired token.
        token_ran_out = source.expires_at is not None and source.expires_at <= now
        if not (renews and token_ran_out) and self._health_check_due(source, now, health_checks):
            try:
                await self._health_check(source)
            except CredentialRejected as err:
                if await expire(self.ctx, source.id, err.reason, now, revoked=err.revoked):
                    report.expired.append(label)
                return
            except TransientError as err:
                report.transient.append(f"{label}: {err.reason}")
        if status is Status.EXPIRING:
            report.expiring.append(label)
        if source.status != status:
            async with self.ctx.db.begin() as session:
                await session.execute(
                    update(Source)
                    .where(Source.id == source.id, Source.status == source.status)
                    .values(status=status, status_changed_at=now)
                )

    def _health_check_due(self, source: Source, now: datetime, done: Counter[str]) -> bool:
        network = self.ctx.catalogue.get(source.network)
        if network is None or not network.configured:
            return False
        if source.checked_at is not None and now - source.checked_at < HEALTH_CHECK_INTERVAL:
            return False
        if done[source.network] >= HEALTH_CHECKS_PER_NETWORK:
            return False
        done[source.network] += 1
        return True

    async def _health_check(self, source: Source) -> None:
        network = self.ctx.catalogue.get(source.network)
        assert network is not None
        async with self.ctx.read() as session:
            credential = await current_credential(session, source.id)
        if credential is None:
            raise CredentialRejected(f"{network.title} connection has no stored token")
        client = self.ctx.oauth(network)
        try:
            await client.identity(decrypt(self.ctx, credential).access_token)
        except TransientError as err:
            await self._record(source.id, LastError("transient", err.reason, self.ctx.clock.now()))
            raise
        async with self.ctx.db.begin() as session:
            await session.execute(
                update(Source).where(Source.id == source.id).values(checked_at=self.ctx.clock.now())
            )
            # A passing check ends an earlier check's transient error, not a renewal streak.
            await session.execute(
                update(Source)
                .where(Source.id == source.id, Source.failures == 0)
                .values(last_error=None)
            )

    async def _record(self, source_id: int, error: LastError) -> None:
        async with self.ctx.db.begin() as session:
            await session.execute(
                update(Source)
                .where(Source.id == source_id)
                .values(last_error=error.to_json(), updated_at=error.at)
            )
