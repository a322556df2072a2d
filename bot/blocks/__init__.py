"""Pure Block Kit builders: domain values in, Slack payload dicts out. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Block = dict[str, Any]


@dataclass(frozen=True)
class Message:
    """A message payload: plain-text fallback (notifications, accessibility) and blocks."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}
