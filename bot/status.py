"""Pure rules for a source's status and the words that explain it."""

from __future__ import annotations

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
) -> Status:
    """The status to show: the stored verdict, or what the clock says about an unscanned source.

    A source that renews by itself is only as bad as the scan found it (expiring while its
    renewal keeps failing); one that cannot is judged by its expiry.
    """
    status = Status(stored)
    if status.needs_reconnect or renewable:
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
    left = expires_at - now
    if left <= timedelta(0):
        return f"expired on {short_date(expires_at)}"
    if left < timedelta(hours=1):
        return "expires within the hour"
    if left < timedelta(days=1):
        hours = int(left.total_seconds() // 3600)
        return f"expires in {hours} hour{'s' if hours != 1 else ''}"
    days = left.days
    return f"expires in {days} day{'s' if days != 1 else ''}"
