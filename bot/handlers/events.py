"""Events the manifest subscribes to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.handlers.limit import WorkLimit
from bot.services import Services
from bot.slack_api import SlackGateway

Next = Callable[[], Awaitable[None]]


def register(app: AsyncApp, services: Services, limit: WorkLimit) -> None:
    async def home_opened(
        event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        # The same event fires for the Messages tab, which has nothing to render.
        if event.get("tab") != "home" or context.team_id is None:
            return
        await services.home.publish(context.team_id, event["user"], SlackGateway(client))

    # An uninstall is recorded before Slack gets its 200 (in listener middleware, which Bolt
    # runs before it acks): if recording fails, Slack sends the event again; if the process
    # stops, nothing was acknowledged that was not recorded. Both are idempotent.
    async def app_uninstalled(context: AsyncBoltContext, next: Next) -> None:
        await services.installs.uninstalled(
            context.enterprise_id, context.team_id, bool(context.is_enterprise_install)
        )
        await next()

    async def tokens_revoked(event: dict[str, Any], context: AsyncBoltContext, next: Next) -> None:
        # Only the bot's token matters: the bot asks for no user tokens.
        if event.get("tokens", {}).get("bot"):
            await services.installs.uninstalled(
                context.enterprise_id,
                context.team_id,
                bool(context.is_enterprise_install),
                bot_only=True,
            )
        await next()

    async def recorded() -> None:
        """Done before the ack (above); the listener only lets Bolt answer 200."""

    app.event(ids.APP_HOME_OPENED)(limit.after_ack(home_opened))
    app.event(ids.APP_UNINSTALLED, middleware=[app_uninstalled])(recorded)
    app.event(ids.TOKENS_REVOKED, middleware=[tokens_revoked])(recorded)
