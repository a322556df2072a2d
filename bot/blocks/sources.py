"""How a source reads in Slack, alone and in lists that must fit Slack's block limits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot import ids
from bot.blocks import Block
from bot.blocks.base import (
    SECTION_TEXT_LIMIT,
    STATUS_ICONS,
    button,
    context,
    escape,
    mention,
    section,
)
from bot.domain import Listing, SourceInfo, Status
from bot.status import display_key, expired_reason, expires_in, short_date

RECONNECT = "Reconnect"


def reconnect_button(source: SourceInfo) -> dict[str, object]:
    return button(RECONNECT, ids.RECONNECT_SOURCE, value=str(source.id), style="primary")


def problem(source: SourceInfo) -> str:
    """The error shown in place of the name for a source that needs a person."""
    if source.last_error is not None:
        return source.last_error.reason
    if source.expires_at is not None:
        return expired_reason(source.network_title, source.expires_at)
    return f"{source.network_title} connection needs reconnecting"


def detail(source: SourceInfo, now: datetime) -> str:
    """What follows the name: its next renewal or expiry, trouble, and whose login it uses."""
    parts = []
    if source.status is Status.EXPIRING and source.renews_at is not None and source.last_error:
        parts.append(f"renewal failing: {escape(source.last_error.reason)}")
    elif source.renews_at is not None:
        parts.append(f"renews by itself around {short_date(max(source.renews_at, now))}")
    elif source.expires_at is not None:
        if source.status is Status.EXPIRING:
            parts.append(expires_in(source.expires_at, now))
        else:
            parts.append(f"valid until {short_date(source.expires_at)}")
    else:
        parts.append("does not expire")
    who = []
    if source.connected_as and source.connected_as != source.name:
        who.append(f"as {escape(source.connected_as)}")
    if source.connected_by:
        who.append(f"by {mention(source.connected_by)}")
    if who:
        parts.append("connected " + " ".join(who))
    return ", ".join(parts)


def source_line(source: SourceInfo, now: datetime) -> str:
    """One mrkdwn line for a source that needs nothing from anyone."""
    line = f"{STATUS_ICONS[source.status]} {escape(source.label)}"
    extra = detail(source, now)
    return f"{line} — {extra}" if extra else line


def action_blocks(source: SourceInfo, now: datetime) -> list[Block]:
    """A source that needs a person: its problem, a Reconnect button, and what it is."""
    icon = STATUS_ICONS[source.status]
    if source.status.needs_reconnect:
        return [
            section(f"{icon} *{escape(problem(source))}*", reconnect_button(source)),
            context(escape(source.label)),
        ]
    return [
        section(
            f"{icon} *{escape(source.label)}* — {detail(source, now)}", reconnect_button(source)
        )
    ]


def needs_attention(source: SourceInfo) -> bool:
    return source.status is not Status.ACTIVE


def sort_for_display(sources: Sequence[SourceInfo]) -> list[SourceInfo]:
    """Expired and revoked first, then expiring, then the rest; by network and name within
    (the order of :func:`bot.status.display_key`, which the database applies too)."""
    return sorted(sources, key=lambda s: display_key(s.status, s.network, s.name, s.id))


def as_listing(sources: Sequence[SourceInfo] | Listing) -> Listing:
    """A listing as it is, or every source of ``sources`` as one."""
    if isinstance(sources, Listing):
        return sources
    broken = sum(1 for source in sources if source.status.needs_reconnect)
    return Listing(first=sort_for_display(sources), total=len(sources), broken=broken)


# The shortest line a healthy source can have: a bound on how many share one section.
_SHORTEST_LINE = len(f"{STATUS_ICONS[Status.ACTIVE]} X · X — does not expire")
_LINES_PER_SECTION = (SECTION_TEXT_LIMIT + 1) // (_SHORTEST_LINE + 1)


def capacity(max_blocks: int, broken: int, expiring: int) -> int:
    """At most how many sources :func:`source_list_blocks` can show in ``max_blocks`` when
    ``broken`` of them need reconnecting and ``expiring`` will soon: how many a view must read,
    in display order, to show all it can. Those come first, in that order, and take
    :func:`action_blocks`' blocks each (two, one); healthy ones share sections."""
    room = max_blocks
    shown = min(broken, room // 2)
    room -= 2 * shown
    if shown < broken:
        return shown
    soon = min(expiring, room)
    room -= soon
    if soon < expiring:
        return shown + soon
    return shown + soon + room * _LINES_PER_SECTION


def source_list_blocks(
    sources: Sequence[SourceInfo] | Listing, now: datetime, max_blocks: int, more_hint: str
) -> list[Block]:
    """Blocks for ``sources`` using at most ``max_blocks``.

    Sources that need a person get their own blocks with a Reconnect button; healthy ones
    share sections, one line each. What does not fit (or was not read: a listing's head
    only) is counted in a closing context line.
    """
    listing = as_listing(sources)
    blocks: list[Block] = []
    lines: list[str] = []
    ordered = sort_for_display(listing.first)  # a listing's head is in this order already
    total = max(listing.total, len(ordered))

    def flush() -> None:
        if lines:
            blocks.append(section("\n".join(lines)))
            lines.clear()

    for index, source in enumerate(ordered):
        reserve = 1 if index < total - 1 else 0  # room for the "and N more" line
        if needs_attention(source):
            candidate = action_blocks(source, now)
            if len(blocks) + (1 if lines else 0) + len(candidate) + reserve > max_blocks:
                flush()
                return _with_more(blocks, total - index, more_hint)
            flush()
            blocks.extend(candidate)
            continue
        line = source_line(source, now)
        if len("\n".join([*lines, line])) > SECTION_TEXT_LIMIT:
            flush()
        if len(blocks) + 1 + reserve > max_blocks:
            flush()
            return _with_more(blocks, total - index, more_hint)
        lines.append(line)
    flush()
    if total > len(ordered):  # read only in part, and all that was read fitted
        return _with_more(blocks, total - len(ordered), more_hint)
    return blocks


def _with_more(blocks: list[Block], remaining: int, hint: str) -> list[Block]:
    noun = "source" if remaining == 1 else "sources"
    return [*blocks, context(f"…and {remaining} more {noun}. {hint}")]
