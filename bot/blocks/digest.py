"""The daily digest: what is expired, what expires soon, what was restored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.blocks import Block, Message
from bot.blocks.base import context, divider, escape, header, mention, section
from bot.blocks.sources import action_blocks, source_line
from bot.domain import SourceInfo

MAX_DIGEST_BLOCKS = 50


@dataclass(frozen=True)
class DigestContent:
    day: date
    expired: Sequence[SourceInfo]
    expiring: Sequence[SourceInfo]
    restored: Sequence[SourceInfo]
    total: int
    window_days: int = 7  # what "expiring soon" means in the workspace (its warning days)

    @property
    def all_well(self) -> bool:
        return not (self.expired or self.expiring or self.restored)


def digest(content: DigestContent, now: datetime) -> Message:
    day = f"{content.day.day} {content.day:%b}"
    blocks: list[Block] = [header(f"Sources digest · {day}")]
    summary = []
    if content.expired:
        summary.append(f"{len(content.expired)} expired")
    within = f"within {content.window_days} day{'s' if content.window_days != 1 else ''}"
    if content.expiring:
        summary.append(f"{len(content.expiring)} expiring {within}")
    if content.restored:
        summary.append(f"{len(content.restored)} restored")
    if content.all_well:
        blocks.append(section(f":white_check_mark: All {content.total} sources are working."))
        return Message(
            text=f"Sources digest {day}: all {content.total} sources are working", blocks=blocks
        )

    lines_budget = MAX_DIGEST_BLOCKS - 8  # header, three titles, dividers and a closing note
    if content.expired:
        blocks.append(section(f"*Expired — imports stopped ({len(content.expired)})*"))
        shown = 0
        for source in content.expired:
            candidate = action_blocks(source, now)
            if len(blocks) + len(candidate) > lines_budget:
                break
            blocks.extend(candidate)
            shown += 1
        if shown < len(content.expired):
            blocks.append(context(f"…and {len(content.expired) - shown} more: `/sources expired`."))
    if content.expiring:
        blocks.append(divider())
        blocks.append(section(f"*Expiring {within} ({len(content.expiring)})*"))
        blocks.append(_lines([source_line(source, now) for source in content.expiring]))
    if content.restored:
        blocks.append(divider())
        blocks.append(section(f"*Restored since the last digest ({len(content.restored)})*"))
        blocks.append(
            _lines(
                [
                    f":white_check_mark: {escape(source.label)}"
                    + (f" — by {mention(source.restored_by)}" if source.restored_by else "")
                    for source in content.restored
                ]
            )
        )
    return Message(text=f"Sources digest {day}: " + ", ".join(summary), blocks=blocks)


def _lines(lines: list[str]) -> Block:
    """One section of lines, cut to Slack's 3,000 characters with a count of what was left."""
    text = ""
    for index, line in enumerate(lines):
        candidate = f"{text}\n{line}" if text else line
        if len(candidate) > 2900:
            return section(f"{text}\n…and {len(lines) - index} more.")
        text = candidate
    return section(text)
