"""The expiry notice, and the replies posted in its thread."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from bot.blocks import Block, Message
from bot.blocks.base import context, escape, header, mention, mrkdwn, section
from bot.blocks.oncall import attention_texts, failing_blocks, workflow_actions
from bot.blocks.sources import action_blocks
from bot.domain import Attention, Identity, SourceInfo
from bot.status import long_date

MAX_NOTICE_BLOCKS = 50
INTRO = (
    "Imports from these accounts have stopped. Click *Reconnect* and sign in as the account shown; "
    "I'll confirm in this thread."
)
WARNING_INTRO = (
    "These connections can't renew themselves. Reconnect them before they expire so imports "
    "don't stop; I'll confirm in this thread."
)
FAILING_INTRO = (
    "I can't renew these by myself right now and keep trying; nothing has stopped yet. If it "
    "goes on, *Reconnect* fixes it for good. I'll say so in this thread when it recovers."
)


@dataclass(frozen=True)
class NoticeEntry:
    """A source in a notice: restored (by whom, or ``recovered`` by itself) or still open,
    with who is on it and how it may be snoozed (``attention``)."""

    source: SourceInfo
    restored_by: str | None = None
    restored_at: datetime | None = None
    recovered: bool = False
    attention: Attention = field(default_factory=Attention)


def expiry_notice(entries: Sequence[NoticeEntry], now: datetime, zone: tzinfo = UTC) -> Message:
    open_count = sum(1 for entry in entries if entry.restored_by is None)
    noun = "connection needs" if open_count == 1 else "connections need"
    return _notice(entries, now, f":lock: {open_count} {noun} reconnecting", INTRO, zone)


def warning_notice(entries: Sequence[NoticeEntry], now: datetime, zone: tzinfo = UTC) -> Message:
    """An early warning: these stop working soon unless a person reconnects them."""
    open_count = sum(1 for entry in entries if entry.restored_by is None)
    noun = "connection expires" if open_count == 1 else "connections expire"
    return _notice(entries, now, f":alarm_clock: {open_count} {noun} soon", WARNING_INTRO, zone)


def failing_notice(entries: Sequence[NoticeEntry], now: datetime, zone: tzinfo = UTC) -> Message:
    """Renewals that have kept failing for passing reasons longer than the workspace lets
    pass quietly; updated to "recovered by itself" when they work again."""
    open_count = sum(1 for entry in entries if entry.restored_by is None)
    noun = "connection" if open_count == 1 else "connections"
    title = f":alarm_clock: Renewal failing for {open_count} {noun}"
    return _notice(entries, now, title, FAILING_INTRO, zone)


def _notice(
    entries: Sequence[NoticeEntry], now: datetime, title: str, intro: str, zone: tzinfo
) -> Message:
    open_entries = [entry for entry in entries if entry.restored_by is None]
    count = len(entries)
    if not open_entries:
        fallback, done = _all_done(entries)
        blocks: list[Block] = [header(done)]
    else:
        fallback = f"{title.split(' ', 1)[1]}: " + ", ".join(
            escape(entry.source.label) for entry in open_entries
        )
        blocks = [header(title), section(intro)]
    for index, entry in enumerate(entries):
        candidate = _entry_blocks(entry, now, zone)
        if len(blocks) + len(candidate) + 1 > MAX_NOTICE_BLOCKS:
            blocks.append(context(f"…and {count - index} more. `/sources expired` lists them all."))
            break
        blocks.extend(candidate)
    return Message(text=fallback[:3000], blocks=blocks)


def _all_done(entries: Sequence[NoticeEntry]) -> tuple[str, str]:
    """(fallback text, header) of a notice whose every source works again."""
    count = len(entries)
    recovered = sum(1 for entry in entries if entry.recovered)
    if recovered == 0:
        return (
            f"All {count} connections in this notice were reconnected",
            ":white_check_mark: All reconnected",
        )
    if recovered < count:
        return (
            f"All {count} connections in this notice work again",
            ":white_check_mark: All working again",
        )
    if count == 1:
        label = escape(entries[0].source.label)
        return f"{label} recovered by itself", ":white_check_mark: Recovered by itself"
    return (
        f"All {count} connections in this notice recovered by themselves",
        ":white_check_mark: All recovered by themselves",
    )


def _entry_blocks(entry: NoticeEntry, now: datetime, zone: tzinfo) -> list[Block]:
    if entry.recovered:
        return [section(f":white_check_mark: *{escape(entry.source.label)}* recovered by itself")]
    if entry.restored_by is not None:
        return [
            section(
                f":white_check_mark: *{escape(entry.source.label)}* reconnected by "
                f"{mention(entry.restored_by)}"
            )
        ]
    attention = entry.attention
    if attention.failing_since is not None and not entry.source.status.needs_reconnect:
        blocks = [failing_blocks(entry.source, attention.failing_since, now, zone)]
    else:
        blocks = action_blocks(entry.source, now)
    state = attention_texts(attention, zone)
    if state and blocks[-1]["type"] == "context":
        blocks[-1] = {**blocks[-1], "elements": [*blocks[-1]["elements"], *map(mrkdwn, state)]}
    elif state:
        blocks.append(context(*state))
    return [*blocks, workflow_actions(entry.source, attention)]


def reconnected_reply(source: SourceInfo, user_id: str) -> Message:
    until = f", valid until {long_date(source.expires_at)}" if source.expires_at else ""
    login = (
        f" (signed in as {escape(source.connected_as)})"
        if source.connected_as and source.connected_as != source.name
        else ""
    )
    by = f"reconnected by {mention(user_id)}{login}{until}"
    return Message(
        text=f"{escape(source.label)} {by}",
        blocks=[section(f":white_check_mark: {escape(source.label)} {by}")],
    )


def wrong_account_reply(
    source: SourceInfo, connected: Identity, user_id: str, reaches: Sequence[str] = ()
) -> Message:
    if source.kind == "account":
        problem = f"but this is *{escape(source.label)}*"
        fix = f"sign in as {escape(source.name)}"
    else:
        within = ", ".join(f"*{escape(name)}*" for name in reaches) or "none"
        problem = f"and that login doesn't manage *{escape(source.label)}* (it reaches: {within})"
        fix = f"sign in as a person who manages {escape(source.name)}"
    text = (
        f"{mention(user_id)} signed in to {source.network_title} as *{escape(connected.name)}*, "
        f"{problem}. Nothing was changed: click *Reconnect* again and {fix}."
    )
    return Message(
        text=f"Wrong account: {escape(connected.name)} instead of {escape(source.name)}",
        blocks=[section(f":warning: {text}")],
    )


def connected_dm(source: SourceInfo, created: bool) -> Message:
    verb = "connected" if created else "reconnected"
    until = f" It is valid until {long_date(source.expires_at)}." if source.expires_at else ""
    text = f"{escape(source.label)} is {verb}.{until}"
    return Message(
        text=text,
        blocks=[section(f":white_check_mark: *{escape(source.label)}* is {verb}.{until}")],
    )
