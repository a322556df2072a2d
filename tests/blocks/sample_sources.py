"""SourceInfo values and block-walking helpers shared by the tests of bot/blocks/."""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain import LastError, SourceInfo, Status

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
EXPIRED_AT = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)  # "27 Nov"
VALID_UNTIL = datetime(2027, 1, 27, 9, 0, tzinfo=UTC)  # "27 Jan" / "27 Jan 2027"
REVOKED_REASON = "LinkedIn says the app's access was removed by the account owner"
HOSTILE_NAME = "<!channel> Acme & <@U999|boss> <https://evil.test|click>"

_ids = itertools.count(1000)


def source(
    status: Status = Status.ACTIVE,
    *,
    name: str = "Acme",
    id: int | None = None,
    network: str = "linkedin",
    network_title: str = "LinkedIn",
    expires_at: datetime | None = None,
    last_error: LastError | None = None,
    restored_by: str | None = None,
    restored_at: datetime | None = None,
    connected_by: str | None = None,
) -> SourceInfo:
    """A source in ``status`` with the expiry a person would expect for it."""
    if expires_at is None:
        expires_at = {
            Status.ACTIVE: VALID_UNTIL,
            Status.EXPIRING: NOW + timedelta(days=3, hours=2),
            Status.EXPIRED: EXPIRED_AT,
            Status.REVOKED: VALID_UNTIL,
        }[status]
    if last_error is None and status is Status.REVOKED:
        last_error = LastError(kind="revoked", reason=REVOKED_REASON, at=NOW)
    return SourceInfo(
        id=next(_ids) if id is None else id,
        workspace_id="T0001",
        network=network,
        network_title=network_title,
        account_id=f"acct-{name[:20]}",
        name=name,
        status=status,
        expires_at=expires_at,
        last_error=last_error,
        restored_at=restored_at,
        restored_by=restored_by,
        connected_by=connected_by,
    )


def many_sources(count: int, seed: int = 7) -> list[SourceInfo]:
    """``count`` sources of every status, many with names of Slack's 255-character maximum."""
    rng = random.Random(seed)
    statuses = [Status.ACTIVE, Status.ACTIVE, Status.EXPIRING, Status.EXPIRED, Status.REVOKED]
    result = []
    for index in range(count):
        length = rng.choice([5, 40, 120, 255, 255])
        base = f"Page {index} <b>&amp; "
        name = (base + "x" * 255)[:length] if length > len(base) else f"P{index}"
        status = statuses[index % len(statuses)]
        error = (
            LastError(kind="expired", reason="R" * 300 + f" {index}", at=NOW)
            if status is Status.EXPIRED and index % 2
            else None
        )
        result.append(source(status, name=name, id=index + 1, last_error=error))
    return result


def walk_texts(node: Any) -> Iterator[str]:
    """Every ``text`` string anywhere in a block structure."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from walk_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk_texts(item)


def all_text(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(walk_texts(blocks))


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every button, in order: section accessories and actions elements."""
    found = []
    for block in blocks:
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("type") == "button":
            found.append(accessory)
        for element in block.get("elements", []):
            if element.get("type") == "button":
                found.append(element)
    return found


def reconnect_values(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["value"] for b in buttons(blocks) if b["action_id"] == "reconnect_source"]


def section_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [block["text"]["text"] for block in blocks if block["type"] == "section"]


def context_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [
        element["text"]
        for block in blocks
        if block["type"] == "context"
        for element in block["elements"]
    ]


MORE = re.compile(r"…and (\d+) more")


def more_count(text: str) -> int:
    match = MORE.search(text)
    assert match, f"no '…and N more' in {text!r}"
    return int(match.group(1))


# A "<" that does not start one of Slack's control sequences (mention, channel, special
# mention, link) makes Slack swallow the text up to the next ">", even inside backticks.
_STRAY_ANGLE = re.compile(r"<(?!@[UW]|#C|!(?:here|channel|everyone|subteam|date)|https?://)")


def stray_angle_brackets(text: str) -> list[str]:
    return [text[m.start() : m.start() + 30] for m in _STRAY_ANGLE.finditer(text)]
