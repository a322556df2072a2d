"""A source's history in a modal: what happened to it, newest first, in the viewer's time zone.

Every event type this version knows reads as a sentence; one it does not know (added by a
newer version, or by the team workflow) still shows, by its type, who and its payload.
Repeats that say nothing new one by one (renewals, token reads) fold into one line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot import ids
from bot.blocks import Block, Message
from bot.blocks.base import (
    STATUS_ICONS,
    actions,
    button,
    clip,
    context,
    divider,
    escape,
    mention,
    plain,
    section,
)
from bot.blocks.sources import detail, history_button, problem
from bot.domain import SourceEvent, SourceInfo
from bot.status import short_date

TITLE = "History"
NEWER = "← Newer"
OLDER = "Older →"
NO_EVENTS = "Nothing has happened to this source yet."
WHICH = "{count} sources match “{query}”. Whose history?"
NO_MATCH = "No source matches “{query}”. `/sources` lists them all."
HISTORY_WHICH = "Whose history? Try `/sources history Acme` or `/sources history 42`."
GONE = "That source no longer exists. `/sources` shows the current list."
MAX_MATCH_BLOCKS = 21
PAYLOAD_TEXT_LIMIT = 300
FOLDED = frozenset({"source.renewed", "source.token_read"})

# The team workflow's events (claims, snoozes, escalation), by name.
CLAIMED = "source.claimed"
SNOOZED = "source.snoozed"
ESCALATED = "source.escalated"


@dataclass(frozen=True)
class Line:
    """One line of history: an event, or a run of alike events folded (newest first)."""

    newest: SourceEvent
    count: int = 1
    oldest_at: datetime | None = None


def history_view(
    source: SourceInfo,
    events: Sequence[SourceEvent],
    zone: str,
    now: datetime,
    older: str | None = None,
    newer: str | None = None,
) -> dict[str, Any]:
    """The modal: the source as it is now, then a page of its events."""
    tz = ZoneInfo(zone)
    blocks: list[Block] = [
        section(_now_line(source, now)),
        context(f"Newest first · times in {escape(zone)}"),
        divider(),
    ]
    lines = fold(events)
    if not lines:
        blocks.append(section(NO_EVENTS))
    blocks.extend(section(line_text(line, tz, now)) for line in lines)
    paging = []
    if newer:
        paging.append(button(NEWER, ids.HISTORY_NEWER, value=page_value(source.id, newer)))
    if older:
        paging.append(button(OLDER, ids.HISTORY_OLDER, value=page_value(source.id, older)))
    if paging:
        blocks.append(actions(*paging, block_id="history_pages"))
    return {
        "type": "modal",
        "callback_id": ids.HISTORY_VIEW,
        "title": plain(TITLE, 24),
        "close": plain("Close", 24),
        "private_metadata": json.dumps({"source": source.id, "tz": zone}),
        "blocks": blocks,
    }


def history_metadata(view: Mapping[str, Any]) -> tuple[int, str] | None:
    """(source id, time zone) that a history modal was opened with."""
    try:
        data = json.loads(view.get("private_metadata") or "")
        return int(data["source"]), str(data["tz"])
    except (ValueError, KeyError, TypeError):
        return None


def page_value(source_id: int, event_id: str) -> str:
    return f"{source_id}:{event_id}"


def parse_page_value(value: str) -> tuple[int, str] | None:
    source_id, _, event_id = value.partition(":")
    if not source_id.isdecimal() or not event_id.startswith("evt_"):
        return None
    return int(source_id), event_id


def history_matches(query: str, sources: Sequence[SourceInfo], now: datetime) -> Message:
    """Several sources answer to what the person typed: each with its History button."""
    shown = escape(clip(query, 100))
    text = WHICH.format(count=len(sources), query=shown)
    blocks: list[Block] = [section(text)]
    for index, source in enumerate(sources):
        if len(blocks) == MAX_MATCH_BLOCKS - 1 and index < len(sources) - 1:
            blocks.append(context(f"…and {len(sources) - index} more: type more of the name."))
            break
        blocks.append(section(_now_line(source, now), history_button(source)))
    return Message(text=text, blocks=blocks)


def no_match(query: str) -> str:
    return NO_MATCH.format(query=escape(clip(query, 100)))


def fold(events: Sequence[SourceEvent]) -> list[Line]:
    """Runs of the same repeat by the same actor (renewals, token reads) as one line each."""
    lines: list[Line] = []
    for event in events:
        last = lines[-1] if lines else None
        if (
            last is not None
            and event.type in FOLDED
            and (last.newest.type, last.newest.actor) == (event.type, event.actor)
        ):
            lines[-1] = Line(last.newest, last.count + 1, event.at)
        else:
            lines.append(Line(event))
    return lines


def line_text(line: Line, zone: ZoneInfo, now: datetime) -> str:
    event = line.newest
    text = f"*{moment(event.at, zone, now)}* · {event_text(event, zone)}"
    if line.count > 1 and line.oldest_at is not None:
        text += f" ({line.count} times since {moment(line.oldest_at, zone, now)})"
    return text


def moment(at: datetime, zone: ZoneInfo, now: datetime) -> str:
    """'Tue 3 Dec 14:02' in ``zone``; with the year when it is not this year."""
    local = at.astimezone(zone)
    year = f" {local.year}" if local.year != now.astimezone(zone).year else ""
    return f"{local:%a} {local.day} {local:%b}{year} {local:%H:%M}"


def event_text(event: SourceEvent, zone: ZoneInfo) -> str:
    """The event as a sentence (user-supplied names and reasons escaped)."""
    render = _TEXTS.get(event.type)
    return render(event, zone) if render is not None else _generic(event)


def _now_line(source: SourceInfo, now: datetime) -> str:
    icon = STATUS_ICONS[source.status]
    state = escape(problem(source)) if source.status.needs_reconnect else detail(source, now)
    return f"{icon} *{escape(source.label)}* — {state}"


def _who(actor: Any) -> str:
    return mention(str(actor)) if actor else "someone"


def _said(payload: Mapping[str, Any], key: str) -> str:
    return escape(clip(str(payload.get(key) or ""), PAYLOAD_TEXT_LIMIT))


def _date(value: Any, zone: ZoneInfo) -> str | None:
    try:
        return short_date(datetime.fromisoformat(str(value)).astimezone(zone))
    except (TypeError, ValueError):
        return None


def _connected(event: SourceEvent, zone: ZoneInfo) -> str:
    login = f" as *{_said(event.payload, 'as')}*" if event.payload.get("as") else ""
    return f":link: Connected by {_who(event.payload.get('by') or event.actor)}{login}"


def _restored(event: SourceEvent, zone: ZoneInfo) -> str:
    login = f" as *{_said(event.payload, 'as')}*" if event.payload.get("as") else ""
    return f":white_check_mark: Restored by {_who(event.payload.get('by') or event.actor)}{login}"


def _renewed(event: SourceEvent, zone: ZoneInfo) -> str:
    until = _date(event.payload.get("expires_at"), zone)
    who = "by itself" if event.actor == "scan" else f"when {_who(event.actor)} asked"
    return f":arrows_counterclockwise: Renewed {who}" + (f", valid until {until}" if until else "")


def _failing(event: SourceEvent, zone: ZoneInfo) -> str:
    return f":warning: Renewal failing: {_said(event.payload, 'reason')}; retrying"


def _expiring(event: SourceEvent, zone: ZoneInfo) -> str:
    days = event.payload.get("days")
    left = f"{days} day{'s' if days != 1 else ''}" if isinstance(days, int) else "a few days"
    if event.payload.get("refresh_token_expires_at"):
        return f":alarm_clock: Warned: its renewal ends within {left} (the refresh token expires)"
    return f":alarm_clock: Warned: it expires within {left}"


def _expired(event: SourceEvent, zone: ZoneInfo) -> str:
    return f":lock: Expired: {_said(event.payload, 'reason')}"


def _revoked(event: SourceEvent, zone: ZoneInfo) -> str:
    return f":lock: Access revoked: {_said(event.payload, 'reason')}"


def _wrong_account(event: SourceEvent, zone: ZoneInfo) -> str:
    return (
        f":warning: {_who(event.payload.get('by') or event.actor)} signed in as "
        f"*{_said(event.payload, 'as')}*, a login that does not reach it; nothing changed"
    )


def _removed(event: SourceEvent, zone: ZoneInfo) -> str:
    return f":wastebasket: Removed by {_who(event.actor)}"


def _token_read(event: SourceEvent, zone: ZoneInfo) -> str:
    return f":key: Token read by {_who(event.actor)}"


def _claimed(event: SourceEvent, zone: ZoneInfo) -> str:
    return f":raising_hand: {_who(event.payload.get('by') or event.actor)} took it on"


def _snoozed(event: SourceEvent, zone: ZoneInfo) -> str:
    until = _date(event.payload.get("until"), zone)
    return f":zzz: Snoozed by {_who(event.payload.get('by') or event.actor)}" + (
        f" until {until}" if until else ""
    )


def _escalated(event: SourceEvent, zone: ZoneInfo) -> str:
    return ":mega: Escalated: still broken long after its notice" + _payload_tail(event)


def _generic(event: SourceEvent) -> str:
    """An event this version has no sentence for: its type, who, and what it carries."""
    by = "" if event.actor == "scan" else f" by {_who(event.actor)}"
    return f":grey_question: `{escape(clip(event.type, 80))}`{by}" + _payload_tail(event)


def _payload_tail(event: SourceEvent) -> str:
    shown = [
        f"{escape(str(key))}: {escape(str(value))}"
        for key, value in event.payload.items()
        if isinstance(value, str | int | float | bool)
    ]
    return f" ({clip(', '.join(shown), PAYLOAD_TEXT_LIMIT)})" if shown else ""


_TEXTS: dict[str, Callable[[SourceEvent, ZoneInfo], str]] = {
    "source.connected": _connected,
    "source.restored": _restored,
    "source.renewed": _renewed,
    "source.renewal_failing": _failing,
    "source.expiring": _expiring,
    "source.expired": _expired,
    "source.revoked": _revoked,
    "source.wrong_account": _wrong_account,
    "source.removed": _removed,
    "source.token_read": _token_read,
    CLAIMED: _claimed,
    SNOOZED: _snoozed,
    ESCALATED: _escalated,
}
