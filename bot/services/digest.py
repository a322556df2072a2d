"""The daily digest: one per workspace per local day, claimed in the database first."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.blocks import Message
from bot.blocks.digest import DigestContent, digest
from bot.domain import Status
from bot.services.context import Context
from bot.services.sources import SourceService
from bot.services.workspaces import WorkspaceService
from bot.slack_api import SlackUnavailable
from bot.store.models import DigestRun, Workspace

log = logging.getLogger(__name__)

EXPIRING_WINDOW = timedelta(days=7)


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
        zone = ZoneInfo(self.workspaces.digest_timezone(workspace))
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
            expiring=[
                s
                for s in sources
                if s.status is Status.EXPIRING
                or (
                    s.status is Status.ACTIVE
                    and s.renews_at is None  # those renew by themselves
                    and s.expires_at is not None
                    and s.expires_at - now <= EXPIRING_WINDOW
                )
            ],
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
            channel=self.workspaces.notify_channel(workspace),
            day=day,
            content=content,
            message=digest(content, now),
        )

    async def run_due(self) -> int:
        """Post the digests whose local hour has come; called by the scheduler every few minutes."""
        posted = 0
        for workspace in await self.workspaces.all():
            if self.local_now(workspace).hour == self.workspaces.digest_hour(workspace):
                posted += await self.post(workspace)
        return posted

    async def post(self, workspace: Workspace) -> int:
        """Post today's digest unless it was already posted (by anyone); return 1 if posted."""
        plan = await self.plan(workspace)
        if plan.channel is None:
            log.warning("workspace %s has no channel for the digest", workspace.id)
            return 0
        run_id = await self._claim(workspace.id, plan.day)
        if run_id is None:
            return 0
        if plan.content.all_well and not self.ctx.settings.digest_always_post:
            log.info("digest for %s on %s: all is well, nothing posted", workspace.id, plan.day)
            return 0
        try:
            ts = await self.ctx.slack.post(plan.channel, plan.message)
        except SlackUnavailable as err:
            log.warning("could not post the digest to %s: %s", plan.channel, err.reason)
            async with self.ctx.db.begin() as session:  # release the day so a later run retries
                await session.execute(delete(DigestRun).where(DigestRun.id == run_id))
            return 0
        async with self.ctx.db.begin() as session:
            await session.execute(
                update(DigestRun)
                .where(DigestRun.id == run_id)
                .values(posted_at=self.ctx.clock.now(), channel=plan.channel, ts=ts)
            )
        return 1

    async def _claim(self, workspace_id: str, day: date) -> int | None:
        async with self.ctx.db() as session:
            run = DigestRun(workspace_id=workspace_id, day=day, claimed_at=self.ctx.clock.now())
            session.add(run)
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()
                return None
            return run.id
