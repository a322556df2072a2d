"""Replies to /sources: the list, help, and short answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.blocks import Message
from bot.blocks.base import context, section
from bot.blocks.sources import as_listing, source_list_blocks
from bot.blocks.texts import HELP, LIST_MORE_HINT, NO_MATCH, NO_SOURCES
from bot.domain import Listing, SourceInfo
from bot.networks import Network

MAX_MESSAGE_BLOCKS = 50
LIST_BLOCKS = MAX_MESSAGE_BLOCKS - 1  # after the summary line


def sources_list(
    sources: Sequence[SourceInfo] | Listing, now: datetime, what: str | None = None
) -> Message:
    """``what`` names the filter ("expired", "LinkedIn") or is None for every source."""
    listing = as_listing(sources)
    if not listing.total:
        text = NO_MATCH.format(what=what) if what else NO_SOURCES
        return short(text)
    broken = listing.broken
    noun = "source" if listing.total == 1 else "sources"
    summary = f"{listing.total} {what + ' ' if what else ''}{noun}"
    if broken:
        summary += f", {broken} need{'s' if broken == 1 else ''} reconnecting"
    blocks = [context(summary)]
    blocks.extend(source_list_blocks(listing, now, LIST_BLOCKS, LIST_MORE_HINT))
    return Message(text=summary, blocks=blocks)


def help_message(networks: Sequence[Network], prefix: str | None = None) -> Message:
    text = f"{prefix}\n\n{HELP}" if prefix else HELP
    ready = [f"`{n.name}`" for n in networks if n.configured]
    waiting = [n.title for n in networks if not n.configured]
    lines = [f"Networks you can connect: {', '.join(ready) or 'none yet'}."]
    if waiting:
        lines.append(f"Not configured by the operator: {', '.join(waiting)}.")
    return Message(text="How to use /sources", blocks=[section(text), context(*lines)])


def short(text: str) -> Message:
    return Message(text=text, blocks=[section(text)])
