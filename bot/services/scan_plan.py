"""The scan's decisions: which sources it reads, and what each one needs in this scan.

The walk reads only the columns in :data:`SCANNED` of the sources :meth:`Planner.worth_a_look`
lets through (a superset of those with something to do), and :meth:`Planner.plan` judges
each row in Python by the same rules as everywhere (:func:`is_due`, :func:`effective_status`).
Nothing here writes: a :class:`Plan` is done later, under the source's claim.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select

from bot.domain import Status, WorkspaceSettings
from bot.networks import Network
from bot.services.context import Context
from bot.services.internal import INTERNAL, UnknownNetwork
from bot.services.renewal import is_due
from bot.services.scan_report import ScanReport
from bot.services.sources import renews_by_itself
from bot.status import effective_status, expired_reason
from bot.store.models import Source, Workspace

# Every live token is shown to its network's identity endpoint about once a day, at most
# this many per network per scan, so that checks spread over the day's scans.
HEALTH_CHECK_INTERVAL = timedelta(hours=24)
HEALTH_CHECKS_PER_NETWORK = 25

# The sources a scan covers: live ones of workspaces that have the app (an uninstalled
# workspace is neither scanned nor told; its data goes after UNINSTALL_RETENTION_DAYS).
INSTALLED = select(Workspace.id).where(Workspace.uninstalled_at.is_(None))
LIVE = and_(
    Source.status.not_in([Status.EXPIRED, Status.REVOKED]), Source.workspace_id.in_(INSTALLED)
)
# What the scan's decisions read of a source (whole ORM objects would cost several times more).
SCANNED = (
    Source.id,
    Source.workspace_id,
    Source.network,
    Source.name,
    Source.status,
    Source.expires_at,
    Source.renewable,
    Source.next_attempt_at,
    Source.last_error,
    Source.checked_at,
    Source.failures,
    Source.failing_since,
    Source.refresh_expires_at,
)


@dataclass
class Plan:
    """What to do with one source in this scan (decided from its row, done under a claim)."""

    row: Any
    renew: bool = False
    expire: str | None = None  # the reason, when it expired by the clock
    health: bool = False
    status: Status | None = None  # what its status is by the clock
    error: Exception | None = None  # deciding failed: the source gets an internal error

    @property
    def needs_claim(self) -> bool:
        changes = self.status is not None and self.status != self.row.status
        return bool(
            self.renew
            or self.expire
            or self.health
            or changes
            or self.error
            or is_internal(self.row)
        )

    @property
    def networked(self) -> bool:
        """Whether doing it calls the source's network."""
        return self.renew or self.health


class Planner:
    """One scan's decisions, at the scan's ``now``, with each installed workspace's settings
    (read once at the start); it keeps count of the health checks it gave out per network."""

    def __init__(
        self,
        ctx: Context,
        now: datetime,
        settings: Mapping[str, WorkspaceSettings],
        defaults: WorkspaceSettings,
        report: ScanReport,
    ) -> None:
        self.ctx = ctx
        self.now = now
        self._settings = settings
        self._defaults = defaults  # for a source whose workspace row is missing
        self.report = report
        self.health_checks: Counter[str] = Counter()
        self.health_queued: set[int] = set()  # sources given a check (at most the cap)

    def settings(self, workspace_id: str) -> WorkspaceSettings:
        """The settings in force in ``workspace_id``."""
        return self._settings.get(workspace_id, self._defaults)

    def widest_warning(self) -> timedelta:
        """The widest warning window of any workspace: the walk reads sources inside it."""
        days = [d for settings in self._settings.values() for d in settings.warning_days]
        return timedelta(days=max(days or self._defaults.warning_days, default=0))

    def worth_a_look(self) -> ColumnElement[bool]:
        """SQL for the live sources the scan may have something to do with (a superset)."""
        now = self.now
        catalogue = self.ctx.catalogue
        # A renewable source renews by itself when its network's app is configured.
        renewing = [n for n in catalogue if n.configured]
        not_renewing = [n.name for n in catalogue if not n.configured]
        return or_(
            # inside a renewal window (whether due, with backoff, is decided in Python)
            and_(
                Source.renewable.is_(True),
                or_(
                    false(),
                    *(
                        and_(Source.network == n.name, Source.expires_at <= now + n.renew_before)
                        for n in renewing
                    ),
                ),
            ),
            # expired by the clock, or inside a warning window, without a renewal to wait for
            and_(
                or_(Source.renewable.is_(False), Source.network.in_(not_renewing)),
                Source.expires_at <= now + self.widest_warning(),
            ),
            # a refresh token that died (renewal is over) or dies within a warning window
            Source.refresh_expires_at <= now + self.widest_warning(),
            Source.status != Status.ACTIVE,
            Source.network.not_in([n.name for n in catalogue]),
        )

    def plan(self, row: Any) -> Plan:
        """Decide what ``row`` needs; whatever breaks here is that source's internal error."""
        try:
            network = self.ctx.catalogue.get(row.network)
            if network is None:
                raise UnknownNetwork(row.network)
            return self._decide(row, network)
        except Exception as err:
            return Plan(row, error=err)

    def health_left(self, network: str) -> int:
        """How many more health checks ``network`` may get in this scan."""
        return HEALTH_CHECKS_PER_NETWORK - self.health_checks[network]

    def unclaimed(self, plan: Plan) -> None:
        """``plan`` was not done (another scan claimed its source): its check is free again."""
        if plan.health:
            self.health_checks[plan.row.network] -= 1

    def _decide(self, row: Any, network: Network) -> Plan:
        now = self.now
        renews = renews_by_itself(row, network, now)
        if renews and is_due(row, network.renew_before, now):
            return Plan(row, renew=True)
        days = self.settings(row.workspace_id).warning_days
        status = effective_status(
            row.status, row.expires_at, now, days, renews, renewal_ends_at=row.refresh_expires_at
        )
        if status is Status.EXPIRED and row.expires_at is not None:
            reason = expired_reason(network.title, row.expires_at)
            if row.last_error and row.status == Status.EXPIRING:
                reason += f" ({row.last_error['reason']})"
            return Plan(row, expire=reason)
        # A renewable source whose token ran out waits for its renewal, not for a check
        # that could only fail with the expired token.
        token_ran_out = row.expires_at is not None and row.expires_at <= now
        health = not (renews and token_ran_out) and self._health_due(row, network)
        plan = Plan(row, health=health, status=status)
        if status is Status.EXPIRING and not plan.health:
            self.report.add("expiring", label(self.ctx, row))
        return plan

    def _health_due(self, row: Any, network: Network) -> bool:
        if not network.configured:
            return False
        if row.checked_at is not None and self.now - row.checked_at < HEALTH_CHECK_INTERVAL:
            return False
        if self.health_left(row.network) <= 0:
            return False
        self.health_checks[row.network] += 1
        return True


def label(ctx: Context, row: Any) -> str:
    """How the report names a source: "LinkedIn · Acme Corp"."""
    return f"{ctx.catalogue.title(row.network)} · {row.name}"


def is_internal(row: Any) -> bool:
    """Whether the source's last error is the bot's own (cleared once it works again)."""
    return isinstance(row.last_error, dict) and row.last_error.get("kind") == INTERNAL
