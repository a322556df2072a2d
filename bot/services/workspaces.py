"""Workspaces: the Slack teams the bot serves, and where each wants its notices."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from bot.delivery import outbox
from bot.services.context import Context
from bot.store.models import Notice, OutboxMessage, Workspace


class WorkspaceService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def ensure(self, team_id: str, name: str | None = None) -> Workspace:
        """The workspace row for ``team_id``, created on first sight (only then does it write)."""
        async with self.ctx.read() as session:
            existing = await session.get(Workspace, team_id)
        if existing is not None:
            return existing
        async with self.ctx.db() as session:
            workspace = Workspace(id=team_id, name=name, created_at=self.ctx.clock.now())
            session.add(workspace)
            try:
                await session.commit()
            except IntegrityError:  # created meanwhile by a concurrent request
                await session.rollback()
                found = await session.get(Workspace, team_id)
                assert found is not None
                return found
            return workspace

    async def default(self) -> Workspace:
        """Single-workspace mode: the one workspace, learned from Slack's auth.test if new."""
        async with self.ctx.read() as session:
            count = await session.scalar(select(func.count()).select_from(Workspace))
            if count == 1:
                only: Workspace | None = await session.scalar(select(Workspace))
                assert only is not None
                return only
        team_id, name = await self.ctx.slack.team()
        return await self.ensure(team_id, name)

    async def all(self) -> list[Workspace]:
        async with self.ctx.read() as session:
            return list((await session.scalars(select(Workspace).order_by(Workspace.id))).all())

    def notify_channel(self, workspace: Workspace) -> str | None:
        return workspace.notify_channel or self.ctx.settings.slack_notify_channel

    def digest_hour(self, workspace: Workspace) -> int:
        if workspace.digest_hour is not None:
            return workspace.digest_hour
        return self.ctx.settings.digest_hour

    def digest_timezone(self, workspace: Workspace) -> str:
        return workspace.digest_timezone or self.ctx.settings.digest_timezone

    async def set_notify_channel(self, team_id: str, channel: str) -> None:
        """Notices go to ``channel`` from now on, and so do those that could not be posted
        where they were meant to go; everything that failed is tried again."""
        await self.ensure(team_id)
        now = self.ctx.clock.now()
        async with self.ctx.db.begin() as session:
            workspace = await session.get(Workspace, team_id)
            assert workspace is not None
            workspace.notify_channel = channel
            failed = (
                await session.scalars(
                    select(OutboxMessage).where(
                        OutboxMessage.workspace_id == team_id,
                        OutboxMessage.status == outbox.FAILED,
                        OutboxMessage.kind.in_([outbox.NOTICE_POST, outbox.DIGEST]),
                    )
                )
            ).all()
            for row in failed:
                row.target = channel
                if row.kind == outbox.DIGEST:
                    row.payload = {**row.payload, "channel": channel}
                else:
                    await session.execute(
                        update(Notice)
                        .where(Notice.id == row.payload["notice_id"], Notice.ts.is_(None))
                        .values(channel=channel)
                    )
            await outbox.requeue_failed(session, team_id, now)
