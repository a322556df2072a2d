"""The daily digest: one per workspace per local day, claimed in the database first."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.blocks import Message
from bot.blocks.digest import DigestContent, digest
from bot.delivery import outbox
from bot.domain import Status
from bot.services.context import Context
from bot.services.sources import SourceService
from bot.services.workspaces import WorkspaceService
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
        content = DigestContent(
            day=day,
            expired=[s for s in sources if s.status.needs_reconnect],
            # Expiring soon means what it means everywhere: the workspace's warning days.
            expiring=[s for s in sources if s.status is Status.EXPIRING],
            restored=[
                s
                for s in sources
                if s.status is not Status.EXPIRED
                and s.restored_at is not None
                and s.restored_at > since
            ],
            total=len(sources),
        )
        return DigestPlan(
            workspace_id=workspace.id,
            channel=self.workspaces.settings(workspace).notify_channel,
            day=day,
            content=content,
            message=digest(content, now),
        )

    async def run_due(self) -> int:
        """Post the digests whose local hour has come (on the workspace's digest days);
        called by the scheduler every few minutes."""
        posted = 0
        for workspace in await self.workspaces.installed():
            settings = self.workspaces.settings(workspace)
            local = self.local_now(workspace)
            if local.hour == settings.digest_hour and settings.digest_on(local.date()):
                posted += await self.post(workspace)
        return posted

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
