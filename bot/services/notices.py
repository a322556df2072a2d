"""Expiry notices: claimed in the database before posting, so each episode is posted once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from slack_sdk.errors import SlackApiError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.blocks import Message
from bot.blocks.notice import NoticeEntry, expiry_notice
from bot.domain import Status
from bot.services.context import Context
from bot.services.sources import SourceService
from bot.services.workspaces import WorkspaceService
from bot.store.models import Notice, NoticeItem, Source, Workspace

log = logging.getLogger(__name__)

EXPIRY = "expiry"
# A claim whose post never got its ts (a crash between claim and post) is retried after this.
STALE_CLAIM = timedelta(minutes=5)


@dataclass(frozen=True)
class OpenNotice:
    """Where a source's current episode was announced, for thread replies and updates."""

    id: int
    channel: str
    ts: str


class NoticeService:
    def __init__(self, ctx: Context, sources: SourceService, workspaces: WorkspaceService) -> None:
        self.ctx = ctx
        self.sources = sources
        self.workspaces = workspaces

    async def post_pending(self, workspace: Workspace) -> int:
        """Post one notice for sources whose current expiry episode has none yet; return posts."""
        channel = self.workspaces.notify_channel(workspace)
        if channel is None:
            log.warning("workspace %s has expired sources but no notice channel", workspace.id)
            return 0
        posted = 0
        notice_id = await self._claim(workspace.id, channel)
        if notice_id is not None and await self._post(notice_id):
            posted += 1
        for stale_id in await self._reclaim_stale(workspace.id):
            if await self._post(stale_id):
                posted += 1
        return posted

    async def _claim(self, workspace_id: str, channel: str) -> int | None:
        now = self.ctx.clock.now()
        announced = select(NoticeItem.id).where(
            NoticeItem.source_id == Source.id,
            NoticeItem.episode == Source.episode,
            NoticeItem.kind == EXPIRY,
        )
        async with self.ctx.db() as session:
            sources = (
                await session.scalars(
                    select(Source).where(
                        Source.workspace_id == workspace_id,
                        Source.status.in_([Status.EXPIRED, Status.REVOKED]),
                        ~announced.exists(),
                    )
                )
            ).all()
            if not sources:
                return None
            notice = Notice(workspace_id=workspace_id, kind=EXPIRY, channel=channel, created_at=now)
            session.add(notice)
            await session.flush()
            session.add_all(
                NoticeItem(notice_id=notice.id, source_id=s.id, episode=s.episode, kind=EXPIRY)
                for s in sources
            )
            try:
                await session.commit()
            except IntegrityError:
                # Another scan claimed (some of) these episodes first; it posts them.
                await session.rollback()
                return None
            return notice.id

    async def _reclaim_stale(self, workspace_id: str) -> list[int]:
        cutoff = self.ctx.clock.now() - STALE_CLAIM
        async with self.ctx.db.begin() as session:
            ids = (
                await session.scalars(
                    select(Notice.id).where(
                        Notice.workspace_id == workspace_id,
                        Notice.ts.is_(None),
                        Notice.created_at < cutoff,
                    )
                )
            ).all()
            reclaimed = []
            for notice_id in ids:
                result = await session.execute(
                    update(Notice)
                    .where(Notice.id == notice_id, Notice.ts.is_(None), Notice.created_at < cutoff)
                    .values(created_at=self.ctx.clock.now())
                )
                if result.rowcount:  # type: ignore[attr-defined]
                    reclaimed.append(notice_id)
            return reclaimed

    async def _post(self, notice_id: int) -> bool:
        notice, message = await self.render(notice_id)
        try:
            ts = await self.ctx.slack.post(notice.channel, message)
        except SlackApiError as err:
            log.warning(
                "could not post notice %s to %s: %s",
                notice_id,
                notice.channel,
                err.response.get("error"),
            )
            # Release the claim so the next scan tries again.
            async with self.ctx.db.begin() as session:
                await session.execute(delete(NoticeItem).where(NoticeItem.notice_id == notice_id))
                await session.execute(delete(Notice).where(Notice.id == notice_id))
            return False
        async with self.ctx.db.begin() as session:
            await session.execute(
                update(Notice)
                .where(Notice.id == notice_id)
                .values(ts=ts, posted_at=self.ctx.clock.now())
            )
        log.info("posted expiry notice %s to %s", notice_id, notice.channel)
        return True

    async def render(self, notice_id: int) -> tuple[Notice, Message]:
        now = self.ctx.clock.now()
        async with self.ctx.db() as session:
            notice = await session.get(Notice, notice_id)
            assert notice is not None
            rows = (
                await session.execute(
                    select(NoticeItem, Source)
                    .join(Source, Source.id == NoticeItem.source_id)
                    .where(NoticeItem.notice_id == notice_id)
                    .order_by(NoticeItem.id)
                )
            ).all()
        entries = [
            NoticeEntry(
                source=self.sources.info(source, now),
                restored_by=item.restored_by,
                restored_at=item.restored_at,
            )
            for item, source in rows
        ]
        return notice, expiry_notice(entries, now)

    async def open_notice_for(self, source_id: int) -> OpenNotice | None:
        """The posted notice about the source's current episode, if any."""
        async with self.ctx.db() as session:
            row = (
                await session.execute(
                    select(Notice)
                    .join(NoticeItem, NoticeItem.notice_id == Notice.id)
                    .join(Source, Source.id == NoticeItem.source_id)
                    .where(
                        NoticeItem.source_id == source_id,
                        NoticeItem.episode == Source.episode,
                        NoticeItem.kind == EXPIRY,
                        Notice.ts.is_not(None),
                    )
                )
            ).scalar()
        if row is None or row.ts is None:
            return None
        return OpenNotice(id=row.id, channel=row.channel, ts=row.ts)

    async def by_id(self, notice_id: int) -> OpenNotice | None:
        async with self.ctx.db() as session:
            notice = await session.get(Notice, notice_id)
        if notice is None or notice.ts is None:
            return None
        return OpenNotice(id=notice.id, channel=notice.channel, ts=notice.ts)

    async def notice_at(self, channel: str, ts: str) -> OpenNotice | None:
        async with self.ctx.db() as session:
            notice = await session.scalar(
                select(Notice).where(Notice.channel == channel, Notice.ts == ts)
            )
        if notice is None or notice.ts is None:
            return None
        return OpenNotice(id=notice.id, channel=notice.channel, ts=notice.ts)

    async def mark_restored(self, notice_id: int, source_id: int, user_id: str) -> None:
        now = self.ctx.clock.now()
        async with self.ctx.db.begin() as session:
            await session.execute(
                update(NoticeItem)
                .where(
                    NoticeItem.notice_id == notice_id,
                    NoticeItem.source_id == source_id,
                    NoticeItem.restored_at.is_(None),
                )
                .values(restored_at=now, restored_by=user_id)
            )
            still_open = await session.scalar(
                select(NoticeItem.id).where(
                    NoticeItem.notice_id == notice_id, NoticeItem.restored_at.is_(None)
                )
            )
            if still_open is None:
                await session.execute(
                    update(Notice)
                    .where(Notice.id == notice_id, Notice.resolved_at.is_(None))
                    .values(resolved_at=now)
                )

    async def refresh_message(self, notice: OpenNotice) -> None:
        """Edit the posted notice to show what is restored so far."""
        _, message = await self.render(notice.id)
        await self.ctx.slack.update(notice.channel, notice.ts, message)
