"""One login for many sources: a notice's "Reconnect all", and choosing which of the pages a
new login manages to add (the DM's button, and the modal's submission)."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.blocks.connect import as_modal, connect_link
from bot.blocks.pages import chosen_pages, pages_added, pages_modal
from bot.blocks.replies import short
from bot.handlers.limit import WorkLimit
from bot.handlers.privately import tell
from bot.services import Services
from bot.services.attempts import ConnectRefused
from bot.services.page_offers import OfferGone
from bot.services.roles import Action, NotAllowed
from bot.slack_api import SlackGateway

NOTHING_TICKED = "Tick at least one, or press Cancel."


def register(app: AsyncApp, services: Services, limit: WorkLimit) -> None:
    async def reconnect_all(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        container = body.get("container", {})
        notice = (
            await services.notices.notice_at(
                team_id, container["channel_id"], container["message_ts"]
            )
            if container.get("type") == "message"
            else None
        )
        try:
            await services.roles.require(team_id, user_id, Action.RECONNECT)
            link = await services.links.start(
                team_id, user_id, str(action.get("value", "")), notice=notice, restore_all=True
            )
        except (ConnectRefused, NotAllowed) as refused:
            message = short(str(refused))
        else:
            message = connect_link(link.url, link.network.title, link.minutes, every=True)
        await tell(body, respond, SlackGateway(client, services.ctx.metrics), message)

    async def choose_pages(
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
            await services.roles.require(team_id, user_id, Action.CONNECT)
            choice = await services.offers.choice(team_id, user_id, offer_id(action.get("value")))
        except (OfferGone, NotAllowed) as refused:
            await tell(body, respond, slack, short(str(refused)))
        else:
            await slack.open_modal(body["trigger_id"], pages_modal(choice))

    async def pages_chosen(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        # The answer is the modal itself (updated, or field errors), so the work comes first;
        # it is one short transaction.
        team_id, user_id = view.get("team_id") or body["team"]["id"], body["user"]["id"]
        chosen = chosen_pages(view["state"]["values"])
        if not chosen:
            first = next(iter(view["state"]["values"]), f"{ids.PAGES_FIELD_PREFIX}0")
            await ack(response_action="errors", errors={first: NOTHING_TICKED})
            return
        try:
            await services.roles.require(team_id, user_id, Action.CONNECT)
            offer = offer_id(view.get("private_metadata"))
            choice, added = await services.offers.add(team_id, user_id, offer, chosen)
        except (OfferGone, NotAllowed) as refused:
            await ack(response_action="update", view=as_modal(short(str(refused))))
            return
        answer = pages_added(choice.network_title, choice.noun, [s.name for s in added])
        await ack(response_action="update", view=as_modal(answer))

    app.action(re.compile(rf"^{ids.RECONNECT_ALL}(:|$)"))(limit.after_ack(reconnect_all))
    app.action(ids.CHOOSE_PAGES)(limit.after_ack(choose_pages))
    app.view(ids.PAGES_VIEW)(limit.after_ack(pages_chosen))


def offer_id(value: Any) -> int:
    """The offer a button or modal names (0, which is none, when it names none)."""
    text = str(value or "")
    return int(text) if text.isdecimal() else 0
