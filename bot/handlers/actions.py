"""Buttons and selects: Reconnect, Connect, the OAuth link button, the notice channel,
Settings, and trying failed deliveries again. Each asks the role rule first."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.blocks import Message
from bot.blocks.connect import connect_link
from bot.blocks.replies import short
from bot.blocks.texts import SOURCE_GONE
from bot.handlers.limit import WorkLimit
from bot.handlers.privately import tell
from bot.services import Services
from bot.services.attempts import ConnectRefused
from bot.services.links import ConnectLink
from bot.services.roles import Action, NotAllowed
from bot.slack_api import SlackGateway


def register(app: AsyncApp, services: Services, limit: WorkLimit) -> None:
    async def reconnect(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        notice = None
        if body.get("container", {}).get("type") == "message":
            container = body["container"]
            notice = await services.notices.notice_at(
                team_id, container["channel_id"], container["message_ts"]
            )
        value = str(action.get("value", ""))
        try:
            await services.roles.require(team_id, user_id, Action.RECONNECT)
            if not value.isdigit():
                raise ConnectRefused(SOURCE_GONE)
            link = await services.links.start(team_id, user_id, "", int(value), notice)
        except (ConnectRefused, NotAllowed) as refused:
            message = short(str(refused))
        else:
            message = link_message(link)
        await tell(body, respond, SlackGateway(client, services.ctx.metrics), message)

    async def connect_network(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        try:
            await services.roles.require(team_id, user_id, Action.CONNECT)
            link = await services.links.start(team_id, user_id, action.get("value", ""))
        except (ConnectRefused, NotAllowed) as refused:
            message = short(str(refused))
        else:
            message = link_message(link)
        await tell(body, respond, SlackGateway(client, services.ctx.metrics), message)

    async def open_link(ack: AsyncAck) -> None:
        # The browser follows the url; Slack still expects the click to be acknowledged.
        await ack()

    async def set_channel(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        slack = SlackGateway(client, services.ctx.metrics)
        try:
            problem = await services.settings.set_notify_channel(
                team_id, user_id, action["selected_conversation"], slack
            )
        except NotAllowed as refused:
            problem = str(refused)
        if problem:
            await tell(body, respond, slack, short(problem))
        await services.home.publish(team_id, user_id, slack)

    async def open_settings(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        slack = SlackGateway(client, services.ctx.metrics)
        try:
            view = await services.settings.modal(body["team"]["id"], body["user"]["id"], slack)
        except NotAllowed as refused:
            await tell(body, respond, slack, short(str(refused)))
        else:
            await slack.open_modal(body["trigger_id"], view)

    async def retry_deliveries(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        slack = SlackGateway(client, services.ctx.metrics)
        try:
            await services.roles.require(team_id, user_id, Action.RETRY_DELIVERIES)
        except NotAllowed as refused:
            await tell(body, respond, slack, short(str(refused)))
            return
        await services.home.retry_deliveries(team_id, user_id)
        await services.home.publish(team_id, user_id, slack)

    app.action(ids.RECONNECT_SOURCE)(limit.after_ack(reconnect))
    app.action(re.compile(rf"^{ids.CONNECT_NETWORK}(:|$)"))(limit.after_ack(connect_network))
    app.action(ids.OPEN_OAUTH_LINK)(open_link)
    app.action(ids.SET_NOTIFY_CHANNEL)(limit.after_ack(set_channel))
    app.action(ids.OPEN_SETTINGS)(limit.after_ack(open_settings))
    app.action(ids.RETRY_DELIVERIES)(limit.after_ack(retry_deliveries))


def link_message(link: ConnectLink) -> Message:
    return connect_link(link.url, link.network.title, link.minutes, link.source)
