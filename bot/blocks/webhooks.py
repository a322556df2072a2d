"""What people read in Slack about webhook endpoints that stopped receiving events."""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks import Block, Message
from bot.blocks.base import clip, context, escape, section
from bot.domain import WebhookEndpointInfo
from bot.status import long_date

URL_SHOWN = 200
DISABLED = (
    ":no_entry: *Webhook deliveries to `{url}` stopped*: {reason}. The tools that read it no "
    "longer hear when sources change."
)
DISABLED_FIX = (
    "Fix the receiver, then run `sources-bot webhooks enable {id}`; "
    "`sources-bot webhooks deliveries --failed` lists what it missed."
)
HOME_DISABLED = ":no_entry: *Webhook endpoint `{url}` is disabled* since {day}: {reason}."


def _url(endpoint: WebhookEndpointInfo) -> str:
    return escape(clip(endpoint.display_url, URL_SHOWN)).replace("`", "'")


def webhook_disabled_message(endpoint: WebhookEndpointInfo) -> Message:
    """The one message to the notice channel when an endpoint is disabled."""
    reason = escape(endpoint.disabled_reason or "it kept failing")
    text = DISABLED.format(url=_url(endpoint), reason=reason)
    return Message(
        text=text.replace("*", ""),
        blocks=[section(text), context(DISABLED_FIX.format(id=endpoint.id))],
    )


def disabled_webhooks_blocks(endpoints: Sequence[WebhookEndpointInfo]) -> list[Block]:
    """For the App Home: one section per disabled endpoint, and how to bring it back."""
    blocks: list[Block] = []
    for endpoint in endpoints:
        day = long_date(endpoint.disabled_at) if endpoint.disabled_at else "recently"
        reason = escape(endpoint.disabled_reason or "it kept failing")
        blocks.append(section(HOME_DISABLED.format(url=_url(endpoint), day=day, reason=reason)))
        blocks.append(context(DISABLED_FIX.format(id=endpoint.id)))
    return blocks
