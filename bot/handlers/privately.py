"""Answering the person who clicked, and only them."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncRespond

from bot.blocks import Message
from bot.blocks.connect import as_modal
from bot.slack_api import SlackGateway


async def tell(
    body: dict[str, Any], respond: AsyncRespond, slack: SlackGateway, message: Message
) -> None:
    """Ephemeral under a message (a channel, a DM); a modal from the App Home, which has no
    response_url. ``slack`` is the request's own client (its workspace's token)."""
    if body.get("response_url"):
        await respond(
            response_type="ephemeral",
            replace_original=False,
            text=message.text,
            blocks=message.blocks,
        )
    else:
        await slack.open_modal(body["trigger_id"], as_modal(message))
