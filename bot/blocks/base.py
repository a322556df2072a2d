"""Small block helpers; each returns one Block Kit element as a dict."""

from __future__ import annotations

import re
from typing import Any

from bot.blocks import Block
from bot.domain import Status

STATUS_ICONS = {
    Status.ACTIVE: ":white_check_mark:",
    Status.EXPIRING: ":alarm_clock:",
    Status.EXPIRED: ":lock:",
    Status.REVOKED: ":lock:",
}

SLACK_USER = re.compile(r"^[UW][A-Z0-9]+$")
API_KEY_ACTOR = "api-key:"
SECTION_TEXT_LIMIT = 3000
BUTTON_TEXT_LIMIT = 75
HEADER_LIMIT = 150


def escape(text: str) -> str:
    """Escape user-supplied text for mrkdwn so it cannot form links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, SECTION_TEXT_LIMIT)}


def plain(text: str, limit: int = SECTION_TEXT_LIMIT) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, HEADER_LIMIT)}


def section(
    text: str, accessory: dict[str, Any] | None = None, block_id: str | None = None
) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if accessory is not None:
        block["accessory"] = accessory
    if block_id is not None:
        block["block_id"] = block_id
    return block


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text) for text in texts[:10]]}


def divider() -> Block:
    return {"type": "divider"}


def actions(*elements: dict[str, Any], block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(elements[:25])}
    if block_id is not None:
        block["block_id"] = block_id
    return block


def button(
    text: str,
    action_id: str,
    *,
    value: str | None = None,
    url: str | None = None,
    style: str | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": plain(text, BUTTON_TEXT_LIMIT),
        "action_id": action_id,
    }
    if value is not None:
        element["value"] = value
    if url is not None:
        element["url"] = url
    if style is not None:
        element["style"] = style
    return element


def mention(who: str) -> str:
    """A Slack user as a mention; anyone else who acts (an API key, the scan) in words."""
    if SLACK_USER.match(who):
        return f"<@{who}>"
    if who.startswith(API_KEY_ACTOR):
        return f"the API (key “{escape(who.removeprefix(API_KEY_ACTOR))}”)"
    if who == "cli":  # bot.services.events.CLI: an operator's `sources-bot` command
        return "the command line"
    if who == "scan":
        return "the bot"
    return escape(who)


def channel_link(channel_id: str) -> str:
    return f"<#{channel_id}>"
