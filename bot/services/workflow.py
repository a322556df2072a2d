"""The team's workflow around a source's trouble: claims, bounded snoozes, reminders,
escalation, and renewals that recover by themselves.

A person acts on a source from a notice (:meth:`WorkflowService.claim`,
:meth:`WorkflowService.snooze`); the claim or snooze is stored on the notice item it was
made from, with its event and the edits of every notice still listing the source, in one
transaction. :meth:`WorkflowService.run_due` is the periodic check the scheduler calls: it
reminds claimers, announces again what a snooze held back, and escalates what stayed broken.
Each of those is claimed with a conditional UPDATE (and unique outbox keys), so replicas
running it at once do each thing once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.blocks import Message
from bot.blocks.base import escape, mention
from bot.blocks.oncall import claim_reminder, clock_time, day, escalation_reply, recovered_reply
from bot.blocks.texts import (
    ALREADY_CLAIMED,
    CANT_SNOOZE_DEAD,
    CLAIMED,
    NOTHING_TO_DO,
    SNOOZE_UNAVAILABLE,
    SNOOZED,
    SOURCE_GONE,
    TOOK_OVER,
)
from bot.delivery import outbox
from bot.domain import GROUP, SourceInfo, Status, WorkspaceSettings
from bot.services.claims import current_claims
from bot.services.context import Context
from bot.services.events import SCAN, EventType
from bot.services.internal import NOT_ISOLATED
from bot.services.notices import (
    EXPIRY,
    WARNING,
    OpenNotice,
    announce,
    notice_order,
    queue_update,
    warning_key,
    warning_threshold,
)
from bot.services.roles import Action, RoleService
from bot.services.snoozes import deadline, live_snoozes, until_for
from bot.services.sources import describe, record_event, renews_by_itself
from bot.services.workspace_settings import resolve
from bot.services.workspaces import WorkspaceService
from bot.slack_api import SlackUnavailable
from bot.store.models import Claim, Notice, NoticeItem, Snooze, Source, Workspace

log = logging.getLogger(__name__)

AGAIN = "again"  # the key prefix of an item announced again after its snooze


class WorkflowRefused(Exception):
    """The action cannot be done; the message says why, for an ephemeral answer."""


@dataclass
class WorkflowReport:
    reminded: int = 0
    announced_again: int = 0
    escalated: int = 0

    def summary(self) -> str:
        return (
            f"claim reminders: {self.reminded}, announced again after a snooze: "
            f"{self.announced_again}, escalations: {self.escalated}"
        )


@dataclass(frozen=True)
class _Trouble:
    """A source and the notice items still open about it, read in one transaction."""

    source: Source
    info: SourceInfo
    items: list[tuple[NoticeItem, Notice]]

    def item_for(self, notice: OpenNotice | None) -> NoticeItem:
        """The item of the notice that was clicked, else the newest one open."""
        for item, listed in self.items:
            if notice is not None and listed.id == notice.id:
                return item
        return self.items[-1][0]


# An expiry notice's item whose source still needs a person, posted, not yet escalated (the
# delay since its posting is each workspace's ESCALATE_AFTER_HOURS).
_ESCALATION_DUE = (
    Source.status.in_([Status.EXPIRED, Status.REVOKED]),
    NoticeItem.key == literal(f"{EXPIRY}:") + cast(Source.episode, String),
    NoticeItem.restored_at.is_(None),
    NoticeItem.escalated_at.is_(None),
    Notice.ts.is_not(None),
)


class WorkflowService:
    def __init__(self, ctx: Context, workspaces: WorkspaceService, roles: RoleService) -> None:
        self.ctx = ctx
        self.workspaces = workspaces
        self.roles = roles

    # --- what people do from a notice -----------------------------------------------------

    async def claim(
        self, team_id: str, user_id: str, source_id: int, notice: OpenNotice | None
    ) -> str:
        """ "I'll take it": ``user_id`` owns the source's trouble (taking it over from whoever
        had it); every notice listing it says so. Returns the answer for the person."""
        await self.roles.require(team_id, user_id, Action.CLAIM)
        now = self.ctx.clock.now()
        settings = await self.workspaces.settings_of(team_id)
        hours = settings.claim_remind_hours
        async with self.ctx.db.begin() as session:
            trouble = await self._trouble(session, team_id, source_id, now)
            previous = (await current_claims(session, [source_id])).get(source_id)
            label = escape(trouble.info.label)
            if previous is not None and previous.user_id == user_id:
                return ALREADY_CLAIMED.format(label=label)
            if previous is not None:
                previous.remind_at = None  # the reminder goes to whoever holds it now
            item = trouble.item_for(notice)
            session.add(
                Claim(
                    workspace_id=team_id,
                    source_id=source_id,
                    item_id=item.id,
                    user_id=user_id,
                    created_at=now,
                    remind_at=now + timedelta(hours=hours),
                )
            )
            await record_event(
                session,
                self.ctx,
                EventType.CLAIMED,
                trouble.source,
                user_id,
                now,
                notice_id=item.notice_id,
                took_over_from=previous.user_id if previous else None,
            )
            await _update_notices(session, trouble, now)
        when = f"{hours} hour{'s' if hours != 1 else ''}"
        if previous is not None:
            return TOOK_OVER.format(label=label, previous=mention(previous.user_id), hours=when)
        return CLAIMED.format(label=label, hours=when)

    async def snooze(
        self, team_id: str, user_id: str, value: str, notice: OpenNotice | None
    ) -> str:
        """ "Remind me": mute the source's trouble until the chosen time (``value`` is
        "{source id}:{choice}"), within the bounds of :mod:`bot.services.snoozes`."""
        await self.roles.require(team_id, user_id, Action.SNOOZE)
        source_part, _, choice = value.partition(":")
        if not source_part.isdigit():
            raise WorkflowRefused(SOURCE_GONE)
        source_id = int(source_part)
        now = self.ctx.clock.now()
        settings = await self.workspaces.settings_of(team_id)
        async with self.ctx.db.begin() as session:
            trouble = await self._trouble(session, team_id, source_id, now)
            label = escape(trouble.info.label)
            dead = trouble.info.status.needs_reconnect
            renews = renews_by_itself(
                trouble.source, self.ctx.catalogue.get(trouble.source.network), now
            )
            ends = deadline(trouble.source, settings, renews)
            until = until_for(choice, now, ends, dead, settings.max_snooze_days)
            if until is None:
                none_allowed = dead and settings.max_snooze_days < 1
                refusal = CANT_SNOOZE_DEAD if none_allowed else SNOOZE_UNAVAILABLE
                raise WorkflowRefused(refusal.format(label=label))
            await session.execute(  # a new snooze replaces a running one
                update(Snooze)
                .where(Snooze.source_id == source_id, Snooze.ended_at.is_(None))
                .values(ended_at=now)
            )
            item = trouble.item_for(notice)
            session.add(
                Snooze(
                    workspace_id=team_id,
                    source_id=source_id,
                    item_id=item.id,
                    user_id=user_id,
                    choice=choice,
                    created_at=now,
                    until=until,
                )
            )
            await record_event(
                session,
                self.ctx,
                EventType.SNOOZED,
                trouble.source,
                user_id,
                now,
                notice_id=item.notice_id,
                choice=choice,
                until=until.isoformat(),
            )
            await _update_notices(session, trouble, now)
        zone = ZoneInfo(settings.digest_timezone)
        return SNOOZED.format(label=label, until=f"{day(until, zone)} {clock_time(until, zone)}")

    async def _trouble(
        self, session: AsyncSession, team_id: str, source_id: int, now: datetime
    ) -> _Trouble:
        source = await session.get(Source, source_id)
        if source is None or source.workspace_id != team_id:
            raise WorkflowRefused(SOURCE_GONE)
        info = await describe(session, self.ctx, source, now)
        items = await open_items(session, source_id)
        if not items or info.status is Status.ACTIVE:
            raise WorkflowRefused(NOTHING_TO_DO.format(label=escape(info.label)))
        return _Trouble(source, info, items)

    # --- the periodic check ---------------------------------------------------------------

    async def run_due(self) -> WorkflowReport:
        """Remind, announce again and escalate what is due, in every installed workspace;
        whatever fails in one workspace stays that workspace's problem."""
        report = WorkflowReport()
        workspaces = await self.workspaces.installed()
        if not workspaces:
            return report
        soonest = min(self.workspaces.settings(w).escalate_after_hours for w in workspaces)
        busy = await self._with_work(self.ctx.clock.now(), soonest)
        for workspace in workspaces:
            if workspace.id not in busy:  # most scans: nothing due anywhere
                continue
            settings = self.workspaces.settings(workspace)
            try:
                report.reminded += await self._remind(workspace.id)
                report.announced_again += await self._wake(workspace.id, settings)
                report.escalated += await self._escalate(workspace.id, settings)
            except NOT_ISOLATED:
                raise
            except Exception:
                log.exception("workflow check of workspace %s failed", workspace.id)
        return report

    async def _with_work(self, now: datetime, soonest_hours: int) -> set[str]:
        """Workspaces that may have a reminder, an ended snooze or an escalation due, found
        for all of them in three queries (``soonest_hours``: the shortest escalation delay of
        any workspace). Asking each workspace would cost three queries per workspace on
        every scan while nothing is due."""
        reminders = select(Claim.workspace_id).where(Claim.remind_at <= now)
        snoozes = select(Snooze.workspace_id).where(Snooze.ended_at.is_(None), Snooze.until <= now)
        escalations = (
            select(Source.workspace_id)
            .join(NoticeItem, NoticeItem.source_id == Source.id)
            .join(Notice, Notice.id == NoticeItem.notice_id)
            .where(*_ESCALATION_DUE, Notice.posted_at <= now - timedelta(hours=soonest_hours))
        )
        found: set[str] = set()
        async with self.ctx.read() as session:
            for query in (reminders, snoozes, escalations):
                found.update((await session.scalars(query.distinct())).all())
        return found

    async def _remind(self, workspace_id: str) -> int:
        """DM whoever took a source on when it still needs a person CLAIM_REMIND_HOURS later."""
        now = self.ctx.clock.now()
        async with self.ctx.read() as session:
            due = (
                await session.scalars(
                    select(Claim.id).where(
                        Claim.workspace_id == workspace_id, Claim.remind_at <= now
                    )
                )
            ).all()
        sent = 0
        for claim_id in due:
            async with self.ctx.db.begin() as session:
                taken = await session.execute(
                    update(Claim)
                    .where(Claim.id == claim_id, Claim.remind_at.is_not(None))
                    .values(remind_at=None)
                )
                if not taken.rowcount:  # type: ignore[attr-defined]
                    continue  # another replica has it
                claim = await session.get(Claim, claim_id)
                assert claim is not None
                item = await session.get(NoticeItem, claim.item_id)
                source = await session.get(Source, claim.source_id)
                if item is None or source is None or item.restored_at is not None:
                    continue
                info = await describe(session, self.ctx, source, now)
                if info.status is Status.ACTIVE:
                    continue
                claim.reminded_at = now
                _dm(session, workspace_id, claim, claim_reminder(info, claim.created_at, now), now)
                sent += 1
        return sent

    async def _wake(self, workspace_id: str, settings: WorkspaceSettings) -> int:
        """Snoozes that ran out: the source is announced again, in a new message, when it
        still needs a person and nothing announced it meanwhile."""
        now = self.ctx.clock.now()
        async with self.ctx.read() as session:
            due = (
                await session.scalars(
                    select(Snooze.id).where(
                        Snooze.workspace_id == workspace_id,
                        Snooze.ended_at.is_(None),
                        Snooze.until <= now,
                    )
                )
            ).all()
        announced = 0
        for snooze_id in due:
            async with self.ctx.db() as session:
                ended = await session.execute(
                    update(Snooze)
                    .where(Snooze.id == snooze_id, Snooze.ended_at.is_(None))
                    .values(ended_at=now)
                )
                if not ended.rowcount:  # type: ignore[attr-defined]
                    await session.rollback()
                    continue
                again = await self._announce_again(session, snooze_id, settings, now)
                try:
                    await session.commit()
                except IntegrityError:  # announced meanwhile by a scan: that is the news
                    await session.rollback()
                    continue
                announced += again
        return announced

    async def _announce_again(
        self, session: AsyncSession, snooze_id: int, settings: WorkspaceSettings, now: datetime
    ) -> int:
        snooze = await session.get(Snooze, snooze_id)
        assert snooze is not None
        item = await session.get(NoticeItem, snooze.item_id)
        source = await session.get(Source, snooze.source_id)
        if item is None or source is None:
            return 0
        notice = await session.get(Notice, item.notice_id)
        assert notice is not None
        await queue_update(session, notice, now)  # it no longer shows the snooze
        info = await describe(session, self.ctx, source, now)
        if item.restored_at is not None or info.status is Status.ACTIVE:
            return 0
        since = await session.scalar(
            select(NoticeItem.id)
            .join(Notice, Notice.id == NoticeItem.notice_id)
            .where(NoticeItem.source_id == source.id, Notice.created_at > snooze.created_at)
            .limit(1)
        )
        if since is not None:  # announced meanwhile (it expired, say): that is the news
            return 0
        channel = settings.channel_for(source.network)
        if channel is None:
            log.warning("workspace %s: a snooze ended and there is no channel", source.workspace_id)
            return 0
        key = await _again_key(session, notice.kind, source, snooze, settings, now)
        await announce(session, source.workspace_id, channel, notice.kind, [(source, key)], now)
        return 1

    async def _escalate(self, workspace_id: str, settings: WorkspaceSettings) -> int:
        """One thread reply per expiry episode still broken ESCALATE_AFTER_HOURS after its
        notice (not while it is snoozed), naming who connected it and the escalation target."""
        now = self.ctx.clock.now()
        hours = settings.escalate_after_hours
        async with self.ctx.read() as session:
            rows = (
                await session.execute(
                    select(Source.id, Source.episode, NoticeItem.id)
                    .join(NoticeItem, NoticeItem.source_id == Source.id)
                    .join(Notice, Notice.id == NoticeItem.notice_id)
                    .where(
                        Source.workspace_id == workspace_id,
                        *_ESCALATION_DUE,
                        Notice.posted_at <= now - timedelta(hours=hours),
                    )
                )
            ).all()
            snoozed = await live_snoozes(session, [source_id for source_id, _, _ in rows], now)
        due = [row for row in rows if row[0] not in snoozed]
        if not due:
            return 0
        admins = await self._admins(workspace_id, settings)
        escalated = 0
        for source_id, episode, item_id in due:
            async with self.ctx.db.begin() as session:
                source = await session.get(Source, source_id)
                if source is None or source.episode != episode:
                    continue
                if not Status(source.status).needs_reconnect:
                    continue
                taken = await session.execute(
                    update(NoticeItem)
                    .where(NoticeItem.id == item_id, NoticeItem.escalated_at.is_(None))
                    .values(escalated_at=now)
                )
                if not taken.rowcount:  # type: ignore[attr-defined]
                    continue
                item = await session.get(NoticeItem, item_id)
                assert item is not None
                notice = await session.get(Notice, item.notice_id)
                assert notice is not None
                info = await describe(session, self.ctx, source, now)
                claim = (await current_claims(session, [source_id])).get(source_id)
                group = settings.escalation_group if settings.escalation_target == GROUP else None
                message = escalation_reply(
                    info,
                    hours,
                    source.connected_by,
                    claim.user_id if claim else None,
                    admins,
                    group,
                )
                outbox.enqueue(
                    session,
                    workspace_id=workspace_id,
                    kind=outbox.THREAD_REPLY,
                    key=f"escalation:{source_id}:{episode}",
                    order_key=notice_order(notice.id),
                    target=notice.channel,
                    payload={"notice_id": notice.id, **message.to_dict()},
                    now=now,
                )
                await record_event(
                    session,
                    self.ctx,
                    EventType.ESCALATED,
                    source,
                    SCAN,
                    now,
                    notice_id=notice.id,
                    after_hours=hours,
                    target=settings.escalation_target,
                    group=group,
                )
                escalated += 1
        return escalated

    async def _admins(self, workspace_id: str, settings: WorkspaceSettings) -> list[str]:
        """Whom an escalation to the admins mentions; none (named in words) when Slack can't
        say: an escalation is better late in words than never."""
        if settings.escalation_target == GROUP and settings.escalation_group:
            return []
        try:
            slack = await self.ctx.slack_clients.for_workspace(workspace_id)
            return await slack.admins()
        except SlackUnavailable as err:
            log.warning("could not list the admins of %s: %s", workspace_id, err.reason)
            return []


# --- renewal works again -------------------------------------------------------------------


async def recovered(
    session: AsyncSession, ctx: Context, source: Source, actor: str, now: datetime
) -> None:
    """In the transaction of a successful renewal: every warning still open about the source
    now says it recovered by itself (edited in place), with a reply in its thread."""
    rows = [
        (item, notice)
        for item, notice in await open_items(session, source.id)
        if notice.kind != EXPIRY  # an expiry is ended by a person, not by a renewal
    ]
    if not rows:
        return
    workspace = await session.get(Workspace, source.workspace_id)
    zone = ZoneInfo(resolve(workspace, ctx.settings).digest_timezone)
    info = await describe(session, ctx, source, now)
    for item, _ in rows:
        item.restored_at, item.restored_by, item.recovered = now, actor, True
    await session.flush()
    for notice in {notice.id: notice for _, notice in rows}.values():
        still_open = await session.scalar(
            select(NoticeItem.id).where(
                NoticeItem.notice_id == notice.id, NoticeItem.restored_at.is_(None)
            )
        )
        if still_open is None and notice.resolved_at is None:
            notice.resolved_at = now
        await queue_update(session, notice, now)
        outbox.enqueue(
            session,
            workspace_id=notice.workspace_id,
            kind=outbox.THREAD_REPLY,
            key=outbox.new_key(f"notice:{notice.id}:recovered"),
            order_key=notice_order(notice.id),
            target=notice.channel,
            payload={"notice_id": notice.id, **recovered_reply(info, now, zone).to_dict()},
            now=now,
        )


# --- helpers --------------------------------------------------------------------------------


async def open_items(session: AsyncSession, source_id: int) -> list[tuple[NoticeItem, Notice]]:
    """The source's notice items not yet restored, oldest first, with their notices."""
    rows = await session.execute(
        select(NoticeItem, Notice)
        .join(Notice, Notice.id == NoticeItem.notice_id)
        .where(NoticeItem.source_id == source_id, NoticeItem.restored_at.is_(None))
        .order_by(NoticeItem.id)
    )
    return [(item, notice) for item, notice in rows]


async def _update_notices(session: AsyncSession, trouble: _Trouble, now: datetime) -> None:
    """Every notice still listing the source shows its latest claim and snooze."""
    for notice in {notice.id: notice for _, notice in trouble.items}.values():
        await queue_update(session, notice, now)


async def _again_key(
    session: AsyncSession,
    kind: str,
    source: Source,
    snooze: Snooze,
    settings: WorkspaceSettings,
    now: datetime,
) -> str:
    """The key of an announcement after a snooze. A warning whose next threshold was crossed
    meanwhile takes that threshold's key, so the scan does not announce it a second time."""
    if kind == WARNING and source.expires_at is not None:
        threshold = warning_threshold(source.expires_at, now, settings.warning_days)
        if threshold is not None:
            key = warning_key(threshold, source.expires_at)
            taken = await session.scalar(
                select(NoticeItem.id).where(
                    NoticeItem.source_id == source.id, NoticeItem.key == key
                )
            )
            if taken is None:
                return key
    return f"{AGAIN}:{snooze.id}"


def _dm(
    session: AsyncSession, workspace_id: str, claim: Claim, message: Message, now: datetime
) -> None:
    outbox.enqueue(
        session,
        workspace_id=workspace_id,
        kind=outbox.MESSAGE,
        key=f"claim:{claim.id}:reminder",
        order_key=f"dm:{claim.user_id}",
        target=claim.user_id,
        payload={"channel": claim.user_id, **message.to_dict()},
        now=now,
    )
