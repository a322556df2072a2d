"""The expiry notice, and the replies posted in its thread."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.blocks import Block, Message
from bot.blocks.base import context, escape, header, mention, section
from bot.blocks.sources import action_blocks
from bot.domain import Identity, SourceInfo
from bot.status import long_date

MAX_NOTICE_BLOCKS = 50
INTRO = (
    "Imports from these accounts have stopped. Click *Reconnect* and sign in as the account shown; "
    "I'll confirm in this thread."
)


@dataclass(frozen=True)
class NoticeEntry:
    source: SourceInfo
    restored_by: str | None = None
    restored_at: datetime | None = None


def expiry_notice(entries: Sequence[NoticeEntry], now: datetime) -> Message:
    open_entries = [entry for entry in entries if entry.restored_by is None]
    count = len(entries)
    if not open_entries:
        title = ":white_check_mark: All reconnected"
        fallback = f"All {count} connections in this notice were reconnected"
        blocks: list[Block] = [header(title)]
    else:
        noun = "connection needs" if len(open_entries) == 1 else "connections need"
        title = f":lock: {len(open_entries)} {noun} reconnecting"
        fallback = f"{len(open_entries)} {noun} reconnecting: " + ", ".join(
            entry.source.label for entry in open_entries
        )
        blocks = [header(title), section(INTRO)]
    for index, entry in enumerate(entries):
        candidate = _entry_blocks(entry, now)
        if len(blocks) + len(candidate) + 1 > MAX_NOTICE_BLOCKS:
            blocks.append(context(f"…and {count - index} more. `/sources expired` lists them all."))
            break
        blocks.extend(candidate)
    return Message(text=fallback[:3000], blocks=blocks)


def _entry_blocks(entry: NoticeEntry, now: datetime) -> list[Block]:
    if entry.restored_by is None:
        return action_blocks(entry.source, now)
    return [
        section(
            f":white_check_mark: *{escape(entry.source.label)}* reconnected by "
            f"{mention(entry.restored_by)}"
        )
    ]


def reconnected_reply(source: SourceInfo, user_id: str) -> Message:
    until = f", valid until {long_date(source.expires_at)}" if source.expires_at else ""
    by = f"reconnected by {mention(user_id)}{until}"
    return Message(
        text=f"{source.label} {by}",
        blocks=[section(f":white_check_mark: {escape(source.label)} {by}")],
    )


def wrong_account_reply(source: SourceInfo, connected: Identity, user_id: str) -> Message:
    text = (
        f"{mention(user_id)} signed in to {source.network_title} as *{escape(connected.name)}*, "
        f"but this is *{escape(source.label)}*. Nothing was changed: click *Reconnect* again "
        f"and sign in as {escape(source.name)}."
    )
    return Message(
        text=f"Wrong account: {connected.name} instead of {source.name}",
        blocks=[section(f":warning: {text}")],
    )


def connected_dm(source: SourceInfo, created: bool) -> Message:
    verb = "connected" if created else "reconnected"
    until = f" It is valid until {long_date(source.expires_at)}." if source.expires_at else ""
    text = f"{source.label} is {verb}.{until}"
    return Message(
        text=text,
        blocks=[section(f":white_check_mark: *{escape(source.label)}* is {verb}.{until}")],
    )
