"""A source's history: the History button, the modal's page buttons, and
`/sources history <name or id>` (answered by :func:`history_command`)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.blocks import Message
from bot.blocks.connect import as_modal
from bot.blocks.history import (
    GONE,
    HISTORY_WHICH,
    history_matches,
    history_metadata,
    history_view,
    no_match,
    parse_page_value,
)
from bot.blocks.replies import short
from bot.handlers.limit import WorkLimit
from bot.handlers.privately import tell
from bot.services import Services
from bot.slack_api import SlackGateway


async def history_command(
    services: Services, slack: SlackGateway, team_id: str, user_id: str, query: str, trigger: str
) -> Message | None:
    """Open the history of the one source ``query`` names; otherwise what to answer."""
    if not query:
        return short(HISTORY_WHICH)
    matches = await services.history.find(team_id, query)
    if not matches:
        return short(no_match(query))
    if len(matches) > 1:
        return history_matches(query, matches, services.ctx.clock.now())
    return await open_history(services, slack, team_id, user_id, matches[0].id, trigger)


async def open_history(
    services: Services,
    slack: SlackGateway,
    team_id: str,
    user_id: str,
    source_id: int,
    trigger: str,
) -> Message | None:
    """Open the modal on the newest events, in the viewer's time zone; or say it is gone."""
    page = await services.history.page(team_id, source_id)
    if page is None:
        return short(GONE)
    zone = await services.history.zone(slack, user_id)
    view = history_view(
        page.source, page.events, zone, services.ctx.clock.now(), page.older, page.newer
    )
    await slack.open_modal(trigger, view)
    return None


def register(app: AsyncApp, services: Services, limit: WorkLimit) -> None:
    async def history_button(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        value = str(action.get("value", ""))
        slack = SlackGateway(client, services.ctx.metrics)
        team_id, user_id = body["team"]["id"], body["user"]["id"]
        problem = (
            await open_history(services, slack, team_id, user_id, int(value), body["trigger_id"])
            if value.isdecimal()
            else short(GONE)
        )
        if problem is not None:
            await tell(body, respond, slack, problem)

    async def turn_page(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        view = body["view"]
        opened, cursor = history_metadata(view), parse_page_value(str(action.get("value", "")))
        if opened is None or cursor is None or cursor[0] != opened[0]:
            return  # not a page button of ours: nothing to turn
        (source_id, zone), event_id = opened, cursor[1]
        older = action["action_id"] == ids.HISTORY_OLDER
        page = await services.history.page(
            body["team"]["id"],
            source_id,
            before=event_id if older else None,
            after=None if older else event_id,
        )
        now = services.ctx.clock.now()
        shown = (
            history_view(page.source, page.events, zone, now, page.older, page.newer)
            if page is not None
            else as_modal(short(GONE))
        )
        await SlackGateway(client, services.ctx.metrics).update_modal(view["id"], shown)

    app.action(ids.SOURCE_HISTORY)(limit.after_ack(history_button))
    app.action(ids.HISTORY_OLDER)(limit.after_ack(turn_page))
    app.action(ids.HISTORY_NEWER)(limit.after_ack(turn_page))
