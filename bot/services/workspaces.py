"""Workspaces: the Slack teams the bot serves, their settings, and what becomes of their data."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from bot.delivery import outbox
from bot.domain import WorkspaceSettings
from bot.services.context import Context
from bot.services.workspace_settings import resolve, store
from bot.store.models import Base, Notice, NoticeItem, OutboxMessage, Source, Workspace

log = logging.getLogger(__name__)


class WorkspaceService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def ensure(
        self,
        team_id: str,
        name: str | None = None,
        enterprise_id: str | None = None,
        org_install: bool = False,
    ) -> Workspace:
        """The workspace row for ``team_id``, created on first sight (only then does it write)."""
        async with self.ctx.read() as session:
            existing = await session.get(Workspace, team_id)
        if existing is not None:
            return existing
        async with self.ctx.db() as session:
            workspace = Workspace(
                id=team_id,
                name=name,
                enterprise_id=enterprise_id,
                org_install=org_install,
                created_at=self.ctx.clock.now(),
            )
            session.add(workspace)
            try:
                await session.commit()
            except IntegrityError:  # created meanwhile by a concurrent request
                await session.rollback()
                found = await session.get(Workspace, team_id)
                assert found is not None
                return found
            return workspace

    async def seen(
        self, team_id: str, enterprise_id: str | None, org_install: bool, restore: bool
    ) -> Workspace:
        """A request from ``team_id`` was authorized: know the workspace and where its token
        is (its org's, for an org-wide install). ``restore`` (bot-token mode, where no
        install flow runs): a workspace marked uninstalled is evidently installed again."""
        workspace = await self.ensure(team_id, None, enterprise_id, org_install)
        stale = (workspace.enterprise_id, workspace.org_install) != (enterprise_id, org_install)
        if stale or (restore and workspace.uninstalled_at is not None):
            async with self.ctx.db.begin() as session:
                row = await session.get(Workspace, team_id)
                assert row is not None
                row.enterprise_id, row.org_install = enterprise_id, org_install
                if restore and row.uninstalled_at is not None:
                    row.uninstalled_at = None
                    log.info("workspace %s is installed again", team_id)
                workspace = row
        return workspace

    async def get(self, team_id: str) -> Workspace | None:
        async with self.ctx.read() as session:
            return await session.get(Workspace, team_id)

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
        """Every workspace, installed or not (for the operator's commands)."""
        async with self.ctx.read() as session:
            return list((await session.scalars(select(Workspace).order_by(Workspace.id))).all())

    async def installed(self) -> list[Workspace]:
        """The workspaces the bot works for: not uninstalled."""
        async with self.ctx.read() as session:
            query = select(Workspace).where(Workspace.uninstalled_at.is_(None))
            return list((await session.scalars(query.order_by(Workspace.id))).all())

    def settings(self, workspace: Workspace | None) -> WorkspaceSettings:
        return resolve(workspace, self.ctx.settings)

    async def settings_of(self, team_id: str) -> WorkspaceSettings:
        return self.settings(await self.get(team_id))

    async def save(self, team_id: str, chosen: WorkspaceSettings) -> None:
        """Store a person's settings (the modal). What could not be posted goes where the new
        settings send it, and everything that failed is tried again."""
        await self._change(team_id, lambda workspace: store(workspace, chosen))

    async def set_notify_channel(self, team_id: str, channel: str) -> None:
        """Notices and digests go to ``channel`` from now on (the App Home's select)."""

        def change(workspace: Workspace) -> None:
            workspace.notify_channel = channel

        await self._change(team_id, change)

    async def _change(self, team_id: str, change: Callable[[Workspace], None]) -> None:
        await self.ensure(team_id)
        now = self.ctx.clock.now()
        async with self.ctx.db.begin() as session:
            workspace = await session.get(Workspace, team_id)
            assert workspace is not None
            change(workspace)
            chosen = self.settings(workspace)
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
                if row.kind == outbox.DIGEST:
                    row.target = chosen.notify_channel
                    row.payload = {**row.payload, "channel": chosen.notify_channel}
                    continue
                network = await session.scalar(
                    select(Source.network)
                    .join(NoticeItem, NoticeItem.source_id == Source.id)
                    .where(NoticeItem.notice_id == row.payload["notice_id"])
                    .limit(1)
                )
                channel = chosen.channel_for(network) if network else chosen.notify_channel
                row.target = channel
                await session.execute(
                    update(Notice)
                    .where(Notice.id == row.payload["notice_id"], Notice.ts.is_(None))
                    .values(channel=channel)
                )
            await outbox.requeue_failed(session, team_id, now)

    async def forget_uninstalled(self, cutoff: datetime) -> list[str]:
        """Delete everything of workspaces uninstalled before ``cutoff``: sources, tokens,
        notices, history, settings. Returns their ids."""
        async with self.ctx.db.begin() as session:
            gone = list(
                (
                    await session.scalars(
                        select(Workspace.id).where(Workspace.uninstalled_at < cutoff)
                    )
                ).all()
            )
            if not gone:
                return []
            # Every table that belongs to a workspace, children first; what belongs to those
            # rows (credentials, notice items, webhook attempts) goes by ON DELETE CASCADE.
            for table in reversed(Base.metadata.sorted_tables):
                if "workspace_id" in table.c:
                    await session.execute(delete(table).where(table.c.workspace_id.in_(gone)))
            await session.execute(delete(Workspace).where(Workspace.id.in_(gone)))
        log.info("deleted the data of uninstalled workspaces: %s", ", ".join(gone))
        return gone
