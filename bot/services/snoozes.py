"""Bounded snoozes: the one rule for how long a source's trouble may be put off.

A warning (expiring, renewal failing) may be snoozed for a day, three days, or until the
day before it stops working; never past that moment (its *deadline*: the expiry of a token
that cannot renew itself, or the end of the failure budget of a renewal that keeps failing).
A source that already stopped working (expired, revoked) may be snoozed for at most the
workspace's ``max_snooze_days``: its imports have stopped, so someone must act soon.

The same function lists the choices a notice offers and computes the end of the one picked,
so what a person reads and what is stored cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import SnoozeChoice, Status, WorkspaceSettings
from bot.store.models import NoticeItem, Snooze, Source

ONE_DAY = "1d"
THREE_DAYS = "3d"
DAY_BEFORE = "before"
CHOICES = (ONE_DAY, THREE_DAYS, DAY_BEFORE)
UNTIL_IT_EXPIRES = "Until it expires"


def deadline(source: Source, settings: WorkspaceSettings, renews: bool) -> datetime | None:
    """When the source stops working unless a person acts; None when it already has (or
    never will: no expiry)."""
    if Status(source.status).needs_reconnect:
        return None
    if renews:
        if source.failing_since is None:
            return None
        return source.failing_since + settings.renewal_failure_budget
    return source.expires_at


def until_for(
    choice: str, now: datetime, ends: datetime | None, dead: bool, max_days: int
) -> datetime | None:
    """When a snooze picked as ``choice`` ends; None when that choice is not possible now.

    ``dead``: the source stopped working (capped at ``max_days``); otherwise ``ends`` is
    its deadline and no snooze goes past it.
    """
    if dead:
        days = {ONE_DAY: 1, THREE_DAYS: 3}.get(choice)
        if days is None or max_days < 1:
            return None
        return now + timedelta(days=min(days, max_days))
    if ends is None or ends <= now:
        return None
    wanted = {
        ONE_DAY: now + timedelta(days=1),
        THREE_DAYS: now + timedelta(days=3),
        DAY_BEFORE: ends - timedelta(days=1),
    }.get(choice)
    if wanted is None or wanted <= now:
        return None
    return min(wanted, ends)


def choices(
    now: datetime, ends: datetime | None, dead: bool, max_days: int
) -> list[tuple[SnoozeChoice, datetime]]:
    """The choices "Remind me" offers now, each with when it would end; two that would end
    at the same moment are offered once, and a label never promises more than is given."""
    offered: list[tuple[SnoozeChoice, datetime]] = []
    for key in CHOICES:
        until = until_for(key, now, ends, dead, max_days)
        if until is None or any(until == other for _, other in offered):
            continue
        offered.append((SnoozeChoice(key, _label(key, now, until, ends, dead)), until))
    return sorted(offered, key=lambda pair: pair[1])


def _label(key: str, now: datetime, until: datetime, ends: datetime | None, dead: bool) -> str:
    if not dead and until == ends:
        return UNTIL_IT_EXPIRES
    if key == DAY_BEFORE:
        return "The day before it expires"
    days = round((until - now) / timedelta(days=1))
    return f"In {days} day{'s' if days != 1 else ''}"


@dataclass(frozen=True)
class LiveSnooze:
    source_id: int
    user_id: str
    until: datetime


async def live_snoozes(
    session: AsyncSession, source_ids: Iterable[int], now: datetime
) -> dict[int, LiveSnooze]:
    """The running snooze of each source that has one (on a notice item still open)."""
    ids = list(source_ids)
    if not ids:
        return {}
    rows = (
        await session.scalars(
            select(Snooze)
            .join(NoticeItem, NoticeItem.id == Snooze.item_id)
            .where(
                Snooze.source_id.in_(ids),
                Snooze.ended_at.is_(None),
                Snooze.until > now,
                NoticeItem.restored_at.is_(None),
            )
            .order_by(Snooze.id)
        )
    ).all()
    # The newest wins (older ones are ended when a new one is made; this is belt and braces).
    return {row.source_id: LiveSnooze(row.source_id, row.user_id, row.until) for row in rows}
