"""Events the manifest subscribes to."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.services import Services
from bot.slack_api import SlackGateway


def register(app: AsyncApp, services: Services) -> None:
    async def home_opened(
        event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        # The same event fires for the Messages tab, which has nothing to render.
        if event.get("tab") != "home" or context.team_id is None:
            return
        await services.home.publish(context.team_id, event["user"], SlackGateway(client))

    async def app_uninstalled(context: AsyncBoltContext) -> None:
        await services.installs.uninstalled(
            context.enterprise_id, context.team_id, bool(context.is_enterprise_install)
        )

    async def tokens_revoked(event: dict[str, Any], context: AsyncBoltContext) -> None:
        # Only the bot's token matters: the bot asks for no user tokens.
        if event.get("tokens", {}).get("bot"):
            await services.installs.uninstalled(
                context.enterprise_id,
                context.team_id,
                bool(context.is_enterprise_install),
                bot_only=True,
            )

    app.event(ids.APP_HOME_OPENED)(home_opened)
    app.event(ids.APP_UNINSTALLED)(app_uninstalled)
    app.event(ids.TOKENS_REVOKED)(tokens_revoked)
