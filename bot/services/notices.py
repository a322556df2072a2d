"""Notices: claimed in the database with their outbox row, so each one is posted once.

An expiry notice announces a source's expiry episode (key ``expiry:{episode}``); an early
warning announces that its current token expires within N days (key
``warn{N}:{expiry timestamp}``, so a new token gets new warnings). A unique (source, key)
row is claimed together with the outbox row that posts the notice; only the scan whose claim
commits queues it, and the outbox delivers it at least once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.blocks import Message
from bot.blocks.notice import NoticeEntry, expiry_notice, failing_notice, warning_notice
from bot.delivery import outbox
from bot.delivery.slack import RenderedNotice
from bot.domain import Status
from bot.services.attention import attention_of
from bot.services.blips import FAILING, failing_due, failing_key
from bot.services.context import Context
from bot.services.events import SCAN, EventType
from bot.services.snoozes import live_snoozes
from bot.services.sources import (
    SourceService,
    record_event,
    renews_by_itself,
    source_info,
)
from bot.services.workspace_settings import resolve
from bot.services.workspaces import WorkspaceService
from bot.status import warning_window
from bot.store.models import Notice, NoticeItem, OutboxMessage, Source, Workspace

log = logging.getLogger(__name__)

EXPIRY = "expiry"
WARNING = "warning"


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


def notice_order(notice_id: int) -> str:
    """The order key of everything about one notice: its post, updates and thread replies."""
    return f"notice:{notice_id}"


@dataclass(frozen=True)
class OpenNotice:
    """Where a source's trouble was announced, for thread replies and updates (``ts`` is None
    until the outbox has posted it)."""

    id: int
    channel: str
    ts: str | None


class NoticeService:
    def __init__(self, ctx: Context, sources: SourceService, workspaces: WorkspaceService) -> None:
        self.ctx = ctx
        self.sources = sources
        self.workspaces = workspaces

    async def post_pending(self, workspace: Workspace) -> int:
        """Queue notices for expired sources whose episode has none yet (one per channel, as
        the workspace routes networks); return how many were queued."""
        async with self.ctx.read() as session:
            broken = (
                await session.scalars(
                    select(Source).where(
                        Source.workspace_id == workspace.id,
                        Source.status.in_([Status.EXPIRED, Status.REVOKED]),
                    )
                )
            ).all()
        keyed = [(source, expiry_key(source), None) for source in broken]
        return await self._claim_per_channel(workspace, EXPIRY, keyed)

    async def post_warnings(self, workspace: Workspace) -> int:
        """Warn ahead about sources a person must reconnect: each threshold once per token,
        none while a person snoozed the source. A source that renews by itself is news only
        once its renewal has been failing for the workspace's RENEWAL_WARN_AFTER (one notice
        per streak of failures)."""
        now = self.ctx.clock.now()
        settings = self.workspaces.settings(workspace)
        days = settings.warning_days
        async with self.ctx.read() as session:
            failing = await failing_due(
                session, self.ctx, workspace.id, settings.renewal_warn_after, now
            )
            candidates = (
                await session.scalars(
                    select(Source).where(
                        Source.workspace_id == workspace.id,
                        # Expired and revoked ones get the expiry notice instead.
                        Source.status.not_in([Status.EXPIRED, Status.REVOKED]),
                        Source.expires_at.is_not(None),
                        Source.expires_at > now,
                        Source.expires_at <= now + warning_window(days),
                    )
                )
            ).all()
            snoozed = await live_snoozes(session, [source.id for source in candidates], now)
        due: list[tuple[Source, str, int | None]] = []
        for source in candidates:
            assert source.expires_at is not None
            # A source that renews by itself needs a person only while renewal is failing,
            # and that is said by the "renewal failing" notice below, not by its expiry.
            network = self.ctx.catalogue.get(source.network)
            if renews_by_itself(source, network) or source.id in snoozed:
                continue
            threshold = warning_threshold(source.expires_at, now, days)
            if threshold is not None:
                due.append((source, warning_key(threshold, source.expires_at), threshold))
        queued = await self._claim_per_channel(workspace, WARNING, due)
        streaks = [(s, failing_key(s.failing_since), None) for s in failing if s.failing_since]
        return queued + await self._claim_per_channel(workspace, FAILING, streaks)

    async def _claim_per_channel(
        self, workspace: Workspace, kind: str, keyed: Sequence[tuple[Source, str, int | None]]
    ) -> int:
        settings = self.workspaces.settings(workspace)
        by_channel: dict[str | None, list[tuple[Source, str, int | None]]] = {}
        for item in keyed:
            by_channel.setdefault(settings.channel_for(item[0].network), []).append(item)
        queued = 0
        for channel, items in by_channel.items():
            queued += await self._claim(workspace.id, channel, kind, items)
        return queued

    async def _claim(
        self,
        workspace_id: str,
        channel: str | None,
        kind: str,
        keyed: Sequence[tuple[Source, str, int | None]],
    ) -> int:
        """Claim the news not yet announced and queue its notice, in one transaction."""
        if not keyed:
            return 0
        if channel is None:
            log.warning("workspace %s has news for a %s notice but no channel", workspace_id, kind)
            raise NoChannel(workspace_id)
        now = self.ctx.clock.now()
        async with self.ctx.db() as session:
            announced = {
                (source_id, key)
                for source_id, key in await session.execute(
                    select(NoticeItem.source_id, NoticeItem.key).where(
                        NoticeItem.source_id.in_([source.id for source, _, _ in keyed])
                    )
                )
            }
            fresh = [item for item in keyed if (item[0].id, item[1]) not in announced]
            if not fresh:
                return 0
            await announce(session, workspace_id, channel, kind, [i[:2] for i in fresh], now)
            for source, _, days in fresh:
                if days is not None:
                    await record_event(
                        session,
                        self.ctx,
                        EventType.EXPIRING,
                        source,
                        SCAN,
                        now,
                        days=days,
                        expires_at=source.expires_at.isoformat() if source.expires_at else None,
                    )
            try:
                await session.commit()
            except IntegrityError:
                # Another scan claimed (some of) these first; its notice announces them.
                await session.rollback()
                return 0
        return 1

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
            settings = resolve(await session.get(Workspace, notice.workspace_id), self.ctx.settings)
            attention = await attention_of(
                session, self.ctx, [source for _, source in rows], settings, now
            )
        entries = [
            NoticeEntry(
                source=source_info(self.ctx, source, now, settings.warning_days),
                restored_by=item.restored_by,
                restored_at=item.restored_at,
                recovered=item.recovered,
                attention=attention[source.id],
            )
            for item, source in rows
        ]
        build = {WARNING: warning_notice, FAILING: failing_notice}.get(notice.kind, expiry_notice)
        return notice, build(entries, now, ZoneInfo(settings.digest_timezone))

    async def render_for_delivery(self, notice_id: int) -> RenderedNotice | None:
        """The notice as it should read now, with where it goes; None if it is gone."""
        async with self.ctx.read() as session:
            if await session.get(Notice, notice_id) is None:
                return None
        notice, message = await self.render(notice_id)
        return RenderedNotice(channel=notice.channel, ts=notice.ts, message=message)

    async def open_notice_for(self, source_id: int) -> OpenNotice | None:
        """The newest notice that lists the source and is not yet resolved for it."""
        async with self.ctx.read() as session:
            notice = await session.scalar(
                select(Notice)
                .join(NoticeItem, NoticeItem.notice_id == Notice.id)
                .where(NoticeItem.source_id == source_id, NoticeItem.restored_at.is_(None))
                .order_by(Notice.id.desc())
                .limit(1)
            )
        return _open(notice)

    async def by_id(self, notice_id: int) -> OpenNotice | None:
        async with self.ctx.read() as session:
            return _open(await session.get(Notice, notice_id))

    async def notice_at(self, workspace_id: str, channel: str, ts: str) -> OpenNotice | None:
        async with self.ctx.read() as session:
            return _open(
                await session.scalar(
                    select(Notice).where(
                        Notice.workspace_id == workspace_id,
                        Notice.channel == channel,
                        Notice.ts == ts,
                    )
                )
            )

    async def mark_restored(
        self, session: AsyncSession, source_id: int, by: str, now: datetime
    ) -> list[OpenNotice]:
        """In ``session``'s transaction: mark the source restored in every notice that still
        lists it as open, queue an update of each, and return them."""
        notice_ids = sorted(
            set(
                (
                    await session.scalars(
                        select(NoticeItem.notice_id).where(
                            NoticeItem.source_id == source_id, NoticeItem.restored_at.is_(None)
                        )
                    )
                ).all()
            )
        )
        if not notice_ids:
            return []
        await session.execute(
            update(NoticeItem)
            .where(NoticeItem.source_id == source_id, NoticeItem.restored_at.is_(None))
            .values(restored_at=now, restored_by=by)
        )
        notices = []
        for notice_id in notice_ids:
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
            notice = await session.get(Notice, notice_id)
            assert notice is not None
            await queue_update(session, notice, now)
            notices.append(OpenNotice(id=notice.id, channel=notice.channel, ts=notice.ts))
        return notices


async def announce(
    session: AsyncSession,
    workspace_id: str,
    channel: str,
    kind: str,
    items: Sequence[tuple[Source, str]],
    now: datetime,
) -> Notice:
    """In ``session``'s transaction: a new notice of ``kind`` listing each (source, key) and
    the outbox row that posts it. The unique (source, key) of its items makes a second
    announcement of the same news fail at commit. Earlier notices still listing one of the
    sources are edited too, so they show what is true now (a warning whose source expired)."""
    earlier = (
        await session.scalars(
            select(Notice)
            .join(NoticeItem, NoticeItem.notice_id == Notice.id)
            .where(
                NoticeItem.source_id.in_([source.id for source, _ in items]),
                NoticeItem.restored_at.is_(None),
                Notice.ts.is_not(None),
            )
            .distinct()
        )
    ).all()
    for stale in earlier:
        await queue_update(session, stale, now)
    notice = Notice(workspace_id=workspace_id, kind=kind, channel=channel, created_at=now)
    session.add(notice)
    await session.flush()
    session.add_all(NoticeItem(notice_id=notice.id, source_id=s.id, key=key) for s, key in items)
    outbox.enqueue(
        session,
        workspace_id=workspace_id,
        kind=outbox.NOTICE_POST,
        key=f"notice:{notice.id}:post",
        order_key=notice_order(notice.id),
        target=channel,
        payload={"notice_id": notice.id},
        now=now,
    )
    return notice


async def queue_update(session: AsyncSession, notice: Notice, now: datetime) -> None:
    """Queue an edit of the notice unless one is already waiting: it renders at send time,
    so one pending edit shows every change made before it goes out."""
    waiting = await session.scalar(
        select(OutboxMessage.id).where(
            OutboxMessage.order_key == notice_order(notice.id),
            OutboxMessage.kind == outbox.NOTICE_UPDATE,
            OutboxMessage.status == outbox.PENDING,
            OutboxMessage.lease_owner.is_(None),
        )
    )
    if waiting is not None:
        return
    outbox.enqueue(
        session,
        workspace_id=notice.workspace_id,
        kind=outbox.NOTICE_UPDATE,
        key=outbox.new_key(f"notice:{notice.id}:update"),
        order_key=notice_order(notice.id),
        target=notice.channel,
        payload={"notice_id": notice.id},
        now=now,
    )


def _open(notice: Notice | None) -> OpenNotice | None:
    if notice is None:
        return None
    return OpenNotice(id=notice.id, channel=notice.channel, ts=notice.ts)
