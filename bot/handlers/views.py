"""Modal submissions: the settings modal, checked field by field before anything is saved."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.blocks.connect import as_modal
from bot.blocks.replies import short
from bot.blocks.settings import form_values
from bot.handlers.limit import WorkLimit
from bot.services import Services
from bot.services.roles import NotAllowed
from bot.slack_api import SlackGateway


def register(app: AsyncApp, services: Services, limit: WorkLimit) -> None:
    async def settings_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        # Slack shows field errors only in the answer to the submission itself, so the checks
        # (channels included) run before the ack; they are a few quick calls.
        team_id, user_id = view.get("team_id") or body["team"]["id"], body["user"]["id"]
        slack = SlackGateway(client)
        try:
            errors = await services.settings.submit(
                team_id, user_id, form_values(view["state"]["values"]), slack
            )
        except NotAllowed as refused:
            await ack(response_action="update", view=as_modal(short(str(refused))))
            return
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        await services.home.publish(team_id, user_id, slack)

    app.view(ids.SETTINGS_VIEW)(limit.after_ack(settings_submitted))
