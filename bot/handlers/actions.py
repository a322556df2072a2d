"""Buttons and selects: Reconnect, Connect, the OAuth link button, the notice channel, and
trying failed deliveries again."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot import ids
from bot.blocks import Message
from bot.blocks.connect import as_modal, connect_link
from bot.blocks.replies import short
from bot.blocks.texts import SOURCE_GONE
from bot.handlers.limit import WorkLimit
from bot.services import Services
from bot.services.attempts import ConnectRefused
from bot.services.links import ConnectLink


def register(app: AsyncApp, services: Services, limit: WorkLimit) -> None:
    async def reconnect(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        notice = None
        if body.get("container", {}).get("type") == "message":
            container = body["container"]
            notice = await services.notices.notice_at(
                container["channel_id"], container["message_ts"]
            )
        value = str(action.get("value", ""))
        if not value.isdigit():
            await deliver(body, respond, short(SOURCE_GONE))
            return
        try:
            link = await services.links.start(team_id, user_id, "", int(value), notice)
        except ConnectRefused as refused:
            await deliver(body, respond, short(str(refused)))
        else:
            await deliver(body, respond, link_message(link))

    async def connect_network(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        try:
            link = await services.links.start(
                body["team"]["id"], body["user"]["id"], action.get("value", "")
            )
        except ConnectRefused as refused:
            await deliver(body, respond, short(str(refused)))
        else:
            await deliver(body, respond, link_message(link))

    async def open_link(ack: AsyncAck) -> None:
        # The browser follows the url; Slack still expects the click to be acknowledged.
        await ack()

    async def set_channel(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        await services.workspaces.set_notify_channel(team_id, action["selected_conversation"])
        await services.home.publish(team_id, user_id)

    async def retry_deliveries(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        await services.home.retry_deliveries(team_id, user_id)
        await services.home.publish(team_id, user_id)

    async def deliver(body: dict[str, Any], respond: AsyncRespond, message: Message) -> None:
        """Privately to the person who clicked: ephemeral in a channel, a modal on the Home tab."""
        if body.get("response_url"):
            await respond(
                response_type="ephemeral",
                replace_original=False,
                text=message.text,
                blocks=message.blocks,
            )
        else:
            await services.ctx.slack.open_modal(body["trigger_id"], as_modal(message))

    app.action(ids.RECONNECT_SOURCE)(limit.after_ack(reconnect))
    app.action(re.compile(rf"^{ids.CONNECT_NETWORK}(:|$)"))(limit.after_ack(connect_network))
    app.action(ids.OPEN_OAUTH_LINK)(open_link)
    app.action(ids.SET_NOTIFY_CHANNEL)(limit.after_ack(set_channel))
    app.action(ids.RETRY_DELIVERIES)(limit.after_ack(retry_deliveries))


def link_message(link: ConnectLink) -> Message:
    return connect_link(link.url, link.network.title, link.minutes, link.source)
