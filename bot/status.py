"""Pure rules for a source's status and the words that explain it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.domain import Status


def warning_window(warning_days: Sequence[int]) -> timedelta:
    """How far ahead "expiring soon" looks: the largest of the workspace's warning days.

    The one definition, used by /sources, the App Home, notices and the digest alike.
    """
    return timedelta(days=max(warning_days, default=0))


def effective_status(
    stored: str,
    expires_at: datetime | None,
    now: datetime,
    warning_days: Sequence[int],
    renewable: bool = False,
    renewal_ends_at: datetime | None = None,
) -> Status:
    """The status to show: the stored verdict, or what the clock says about an unscanned source.

    A source that renews by itself is only as bad as the scan found it (expiring while its
    renewal keeps failing), or expiring when its renewal ends (``renewal_ends_at``: its refresh
    token dies) within the warning window; one that cannot is judged by its expiry.
    """
    status = Status(stored)
    if status.needs_reconnect:
        return status
    if renewable:
        if (
            status is Status.ACTIVE
            and renewal_ends_at is not None
            and warning_days
            and renewal_ends_at - now <= warning_window(warning_days)
        ):
            return Status.EXPIRING
        return status
    if expires_at is None:
        return Status.ACTIVE
    if expires_at <= now:
        return Status.EXPIRED
    if warning_days and expires_at - now <= warning_window(warning_days):
        return Status.EXPIRING
    return Status.ACTIVE


def short_date(moment: datetime) -> str:
    """'27 Nov': day and month, as people read an expiry date."""
    return f"{moment.day} {moment:%b}"


def long_date(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


def expired_reason(network_title: str, expires_at: datetime) -> str:
    return f"{network_title} connection expired on {short_date(expires_at)}"


def expires_in(expires_at: datetime, now: datetime) -> str:
    """'expires in 3 days', 'expires in 1 day', 'expires in 5 hours': whole units, rounded down."""
    if expires_at <= now:
        return f"expired on {short_date(expires_at)}"
    return f"expires {time_left(expires_at, now)}"


def time_left(moment: datetime, now: datetime) -> str:
    """'in 3 days', 'in 1 day', 'in 5 hours', 'within the hour' (whole units, rounded down)."""
    left = moment - now
    if left < timedelta(hours=1):
        return "within the hour"
    if left < timedelta(days=1):
        hours = int(left.total_seconds() // 3600)
        return f"in {hours} hour{'s' if hours != 1 else ''}"
    days = left.days
    return f"in {days} day{'s' if days != 1 else ''}"


_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key for names as people read them: "Page 2" before "Page 10", case ignored."""
    return tuple(
        (0, int(part)) if part.isdecimal() else (1, part)
        for part in _DIGITS.split(text.casefold())
        if part
    )
