"""Notices: claimed in the database before posting, so each one is posted once.

An expiry notice announces a source's expiry episode (key ``expiry:{episode}``); an early
warning announces that its current token expires within N days (key
``warn{N}:{expiry timestamp}``, so a new token gets new warnings). A unique (source, key)
row is claimed first; only the scan that claims it posts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.blocks import Message
from bot.blocks.notice import NoticeEntry, expiry_notice, warning_notice
from bot.domain import Status
from bot.services.context import Context
from bot.services.slack import SlackUnavailable
from bot.services.sources import SourceService, renews_by_itself
from bot.services.workspaces import WorkspaceService
from bot.store.models import Notice, NoticeItem, Source, Workspace

log = logging.getLogger(__name__)

EXPIRY = "expiry"
WARNING = "warning"
# A claim whose post never got its ts (a crash between claim and post) is retried after this.
STALE_CLAIM = timedelta(minutes=5)


class NoChannel(Exception):
    """A workspace has something to announce and no channel to announce it in."""


def expiry_key(source: Source) -> str:
    return f"expiry:{source.episode}"


def warning_key(days: int, expires_at: datetime) -> str:
    return f"warn{days}:{int(expires_at.timestamp())}"


def warning_threshold(
    expires_at: datetime, now: datetime, warning_days: Sequence[int]
) -> int | None:
    """The most urgent warning threshold (in days) that the time left has crossed."""
    left = expires_at - now
    crossed = [days for days in warning_days if left <= timedelta(days=days)]
    return min(crossed) if crossed and left > timedelta(0) else None


@dataclass(frozen=True)
class OpenNotice:
    """Where a source's trouble was announced, for thread replies and updates."""

    id: int
    channel: str
    ts: str


class NoticeService:
    def __init__(self, ctx: Context, sources: SourceService, workspaces: WorkspaceService) -> None:
        self.ctx = ctx
        self.sources = sources
        self.workspaces = workspaces

    async def post_pending(self, workspace: Workspace) -> int:
        """Post one notice for expired sources whose episode has none yet; return posts."""
        channel = self.workspaces.notify_channel(workspace)
        async with self.ctx.read() as session:
            broken = (
                await session.scalars(
                    select(Source).where(
                        Source.workspace_id == workspace.id,
                        Source.status.in_([Status.EXPIRED, Status.REVOKED]),
                    )
                )
            ).all()
        return await self._claim_and_post(
            workspace.id, channel, EXPIRY, [(source, expiry_key(source)) for source in broken]
        )

    async def post_warnings(self, workspace: Workspace) -> int:
        """Warn ahead about sources a person must reconnect: each threshold once per token."""
        channel = self.workspaces.notify_channel(workspace)
        now = self.ctx.clock.now()
        days = self.ctx.settings.expiry_warning_days
        async with self.ctx.read() as session:
            candidates = (
                await session.scalars(
                    select(Source).where(
                        Source.workspace_id == workspace.id,
                        # Expired and revoked ones get the expiry notice instead.
                        Source.status.not_in([Status.EXPIRED, Status.REVOKED]),
                        Source.expires_at.is_not(None),
                        Source.expires_at > now,
                        Source.expires_at <= now + timedelta(days=max(days, default=0)),
                    )
                )
            ).all()
        due = []
        for source in candidates:
            assert source.expires_at is not None
            # A source that renews by itself only needs a person while renewal is failing.
            network = self.ctx.catalogue.get(source.network)
            if renews_by_itself(source, network) and source.status != Status.EXPIRING:
                continue
            threshold = warning_threshold(source.expires_at, now, days)
            if threshold is not None:
                due.append((source, warning_key(threshold, source.expires_at)))
        return await self._claim_and_post(workspace.id, channel, WARNING, due)

    async def _claim_and_post(
        self, workspace_id: str, channel: str | None, kind: str, keyed: list[tuple[Source, str]]
    ) -> int:
        if keyed and channel is None:
            log.warning("workspace %s has news for a %s notice but no channel", workspace_id, kind)
            raise NoChannel(workspace_id)
        posted = 0
        if keyed and channel is not None:
            notice_id = await self._claim(workspace_id, channel, kind, keyed)
            if notice_id is not None and await self._post(notice_id):
                posted += 1
        for stale_id in await self._reclaim_stale(workspace_id, kind):
            if await self._post(stale_id):
                posted += 1
        return posted

    async def _claim(
        self, workspace_id: str, channel: str, kind: str, keyed: list[tuple[Source, str]]
    ) -> int | None:
        now = self.ctx.clock.now()
        async with self.ctx.db() as session:
            announced = {
                (source_id, key)
                for source_id, key in await session.execute(
                    select(NoticeItem.source_id, NoticeItem.key).where(
                        NoticeItem.source_id.in_([source.id for source, _ in keyed])
                    )
                )
            }
            fresh = [(source, key) for source, key in keyed if (source.id, key) not in announced]
            if not fresh:
                return None
            notice = Notice(workspace_id=workspace_id, kind=kind, channel=channel, created_at=now)
            session.add(notice)
            await session.flush()
            session.add_all(
                NoticeItem(notice_id=notice.id, source_id=source.id, key=key)
                for source, key in fresh
            )
            try:
                await session.commit()
            except IntegrityError:
                # Another scan claimed (some of) these first; it posts them.
                await session.rollback()
                return None
            return notice.id

    async def _reclaim_stale(self, workspace_id: str, kind: str) -> list[int]:
        now = self.ctx.clock.now()
        cutoff = now - STALE_CLAIM
        reclaimed = []
        async with self.ctx.db.begin() as session:
            ids = (
                await session.scalars(
                    select(Notice.id).where(
                        Notice.workspace_id == workspace_id,
                        Notice.kind == kind,
                        Notice.ts.is_(None),
                        Notice.created_at < cutoff,
                    )
                )
            ).all()
            for notice_id in ids:
                result = await session.execute(
                    update(Notice)
                    .where(Notice.id == notice_id, Notice.ts.is_(None), Notice.created_at < cutoff)
                    .values(created_at=now)
                )
                if result.rowcount:  # type: ignore[attr-defined]
                    reclaimed.append(notice_id)
        return reclaimed

    async def _post(self, notice_id: int) -> bool:
        notice, message = await self.render(notice_id)
        try:
            ts = await self.ctx.slack.post(notice.channel, message)
        except SlackUnavailable as err:
            log.warning(
                "could not post notice %s to %s: %s",
                notice_id,
                notice.channel,
                err.reason,
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
        log.info("posted %s notice %s to %s", notice.kind, notice_id, notice.channel)
        return True

    async def render(self, notice_id: int) -> tuple[Notice, Message]:
        now = self.ctx.clock.now()
        async with self.ctx.read() as session:
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
        build = warning_notice if notice.kind == WARNING else expiry_notice
        return notice, build(entries, now)

    async def open_notice_for(self, source_id: int) -> OpenNotice | None:
        """The newest posted notice that lists the source and is not yet resolved for it."""
        async with self.ctx.read() as session:
            notice = await session.scalar(
                select(Notice)
                .join(NoticeItem, NoticeItem.notice_id == Notice.id)
                .where(
                    NoticeItem.source_id == source_id,
                    NoticeItem.restored_at.is_(None),
                    Notice.ts.is_not(None),
                )
                .order_by(Notice.id.desc())
                .limit(1)
            )
        return _open(notice)

    async def by_id(self, notice_id: int) -> OpenNotice | None:
        async with self.ctx.read() as session:
            return _open(await session.get(Notice, notice_id))

    async def notice_at(self, channel: str, ts: str) -> OpenNotice | None:
        async with self.ctx.read() as session:
            return _open(
                await session.scalar(
                    select(Notice).where(Notice.channel == channel, Notice.ts == ts)
                )
            )

    async def mark_restored(self, source_id: int, user_id: str) -> list[OpenNotice]:
        """Mark the source restored in every notice that still lists it as open; return those."""
        now = self.ctx.clock.now()
        async with self.ctx.db.begin() as session:
            notice_ids = (
                await session.scalars(
                    select(NoticeItem.notice_id).where(
                        NoticeItem.source_id == source_id, NoticeItem.restored_at.is_(None)
                    )
                )
            ).all()
            await session.execute(
                update(NoticeItem)
                .where(NoticeItem.source_id == source_id, NoticeItem.restored_at.is_(None))
                .values(restored_at=now, restored_by=user_id)
            )
            for notice_id in set(notice_ids):
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
            notices = (
                await session.scalars(
                    select(Notice).where(Notice.id.in_(notice_ids)).order_by(Notice.id)
                )
            ).all()
        return [notice for notice in map(_open, notices) if notice is not None]

    async def refresh_message(self, notice: OpenNotice) -> None:
        """Edit the posted notice to show what is restored so far."""
        _, message = await self.render(notice.id)
        await self.ctx.slack.update(notice.channel, notice.ts, message)


def _open(notice: Notice | None) -> OpenNotice | None:
    if notice is None or notice.ts is None:
        return None
    return OpenNotice(id=notice.id, channel=notice.channel, ts=notice.ts)
