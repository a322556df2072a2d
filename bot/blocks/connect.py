"""The private link a person gets after clicking Reconnect or running /sources connect."""

from __future__ import annotations

from typing import Any

from bot import ids
from bot.blocks import Message
from bot.blocks.base import button, context, escape, plain, section
from bot.blocks.texts import LINK_PRIVACY
from bot.domain import SourceInfo


def connect_link(
    url: str,
    network_title: str,
    minutes: int,
    source: SourceInfo | None = None,
    every: bool = False,
) -> Message:
    """The private link; for ``source`` (Reconnect), for ``every`` source of the network
    that needs a person (Reconnect all), or for a new account."""
    if every:
        text = (
            f"Reconnect every {network_title} source that needs it: sign in to {network_title} "
            "as a person who manages them. I'll confirm in each one's thread."
        )
        fallback = f"Your link to reconnect {network_title} sources"
    elif source is not None:
        text = (
            f"Reconnect *{escape(source.label)}*: sign in to {network_title} as "
            f"*{escape(source.name)}*, or as a person who manages it."
        )
        fallback = f"Your link to reconnect {escape(source.label)}"
    else:
        text = f"Connect a {network_title} account: sign in to {network_title} with it."
        fallback = f"Your link to connect a {network_title} account"
    return Message(
        text=fallback,
        blocks=[
            section(text),
            {
                "type": "actions",
                "elements": [
                    button(f"Open {network_title}", ids.OPEN_OAUTH_LINK, url=url, style="primary")
                ],
            },
            context(LINK_PRIVACY.format(minutes=minutes)),
        ],
    )


def as_modal(message: Message) -> dict[str, Any]:
    """A reply shown in a modal, for clicks on the App Home, which has no ephemeral messages."""
    return {
        "type": "modal",
        "title": plain("sources-bot", 24),
        "close": plain("Close", 24),
        "blocks": message.blocks,
    }
