"""The daily digest: one per workspace per local day, claimed in the database first.

It goes out at the workspace's digest hour on its digest days, or as soon after as the bot
runs that day (a process that was down at the hour posts it when it comes back), once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.blocks import Message
from bot.blocks.digest import DigestContent, digest
from bot.delivery import outbox
from bot.domain import SourceInfo, Status
from bot.services.context import Context
from bot.services.sources import SourceService
from bot.services.workspaces import WorkspaceService
from bot.status import natural_key, warning_window
from bot.store.models import DigestRun, Workspace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DigestPlan:
    """A digest ready to post (or print, for --dry-run)."""

    workspace_id: str
    channel: str | None
    day: date
    content: DigestContent
    message: Message


class DigestService:
    def __init__(self, ctx: Context, sources: SourceService, workspaces: WorkspaceService) -> None:
        self.ctx = ctx
        self.sources = sources
        self.workspaces = workspaces

    def local_now(self, workspace: Workspace) -> datetime:
        zone = ZoneInfo(self.workspaces.settings(workspace).digest_timezone)
        return self.ctx.clock.now().astimezone(zone)

    async def plan(self, workspace: Workspace) -> DigestPlan:
        now = self.ctx.clock.now()
        day = self.local_now(workspace).date()
        sources = await self.sources.list(workspace.id)
        async with self.ctx.read() as session:
            last_run = await session.scalar(
                select(DigestRun.claimed_at)
                .where(DigestRun.workspace_id == workspace.id, DigestRun.day < day)
                .order_by(DigestRun.claimed_at.desc())
                .limit(1)
            )
        since = last_run or workspace.created_at
        settings = self.workspaces.settings(workspace)
        content = DigestContent(
            day=day,
            expired=most_urgent_first([s for s in sources if s.status.needs_reconnect]),
            # Expiring soon means what it means everywhere: the workspace's warning days.
            expiring=most_urgent_first([s for s in sources if s.status is Status.EXPIRING]),
            restored=sorted(
                (
                    s
                    for s in sources
                    if s.status is not Status.EXPIRED
                    and s.restored_at is not None
                    and s.restored_at > since
                ),
                key=_by_name,
            ),
            total=len(sources),
            window_days=warning_window(settings.warning_days).days,
        )
        return DigestPlan(
            workspace_id=workspace.id,
            channel=self.workspaces.settings(workspace).notify_channel,
            day=day,
            content=content,
            message=digest(content, now),
        )

    async def run_due(self) -> int:
        """Post today's digests that are due and not yet claimed; called by the scheduler
        every few minutes."""
        posted = 0
        for workspace in await self.workspaces.installed():
            day = self.due(workspace)
            if day is not None and not await self._claimed(workspace.id, day):
                posted += await self.post(workspace)
        return posted

    def due(self, workspace: Workspace) -> date | None:
        """The local day whose digest is due: one of the workspace's digest days whose hour
        has come (at the hour, or later that day when the bot was not running then). A
        workspace that did not exist yet at today's hour starts tomorrow."""
        settings = self.workspaces.settings(workspace)
        local = self.local_now(workspace)
        hour = datetime.combine(local.date(), time(settings.digest_hour), local.tzinfo)
        if settings.digest_on(local.date()) and workspace.created_at <= hour <= local:
            return local.date()
        return None

    async def _claimed(self, workspace_id: str, day: date) -> bool:
        """Whether the day's digest was claimed already (posted, or a quiet day): a cheap
        look before planning one, since the check runs every few minutes all day."""
        async with self.ctx.read() as session:
            run = await session.scalar(
                select(DigestRun.id).where(
                    DigestRun.workspace_id == workspace_id, DigestRun.day == day
                )
            )
        return run is not None

    async def post(self, workspace: Workspace) -> int:
        """Queue today's digest unless it was already claimed (by anyone); return 1 if queued.

        The day's claim and the outbox row commit together: a quiet day is claimed with
        nothing to send, and a digest that Slack refuses for a while is retried by the outbox.
        """
        plan = await self.plan(workspace)
        if plan.channel is None:
            log.warning("workspace %s has no channel for the digest", workspace.id)
            return 0
        quiet = plan.content.all_well and not self.ctx.settings.digest_always_post
        now = self.ctx.clock.now()
        async with self.ctx.db() as session:
            run = DigestRun(workspace_id=workspace.id, day=plan.day, claimed_at=now)
            session.add(run)
            try:
                await session.flush()
            except IntegrityError:  # claimed by another run first
                await session.rollback()
                return 0
            if not quiet:
                outbox.enqueue(
                    session,
                    workspace_id=workspace.id,
                    kind=outbox.DIGEST,
                    key=f"digest:{workspace.id}:{plan.day.isoformat()}",
                    order_key=f"digest:{workspace.id}",
                    target=plan.channel,
                    payload={"run_id": run.id, "channel": plan.channel, **plan.message.to_dict()},
                    now=now,
                )
            try:
                await session.commit()
            except IntegrityError:  # claimed by another run first
                await session.rollback()
                return 0
        if quiet:
            log.info("digest for %s on %s: all is well, nothing posted", workspace.id, plan.day)
            return 0
        return 1


def most_urgent_first(sources: Sequence[SourceInfo]) -> list[SourceInfo]:
    """Soonest deadline first (what stopped longest ago, then what stops soonest); names in
    natural order ("Page 2" before "Page 10") where it ties or nothing says."""
    far = datetime.max.replace(tzinfo=ZoneInfo("UTC"))
    return sorted(sources, key=lambda s: (s.deadline or far, *_by_name(s)))


def _by_name(source: SourceInfo) -> tuple[tuple[tuple[int, int | str], ...], str, int]:
    return natural_key(source.name), source.network, source.id
