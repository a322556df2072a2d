"""Events the manifest subscribes to."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot import ids
from bot.handlers.limit import WorkLimit
from bot.services import Services


def register(app: AsyncApp, services: Services, limit: WorkLimit) -> None:
    async def home_opened(event: dict[str, Any], context: AsyncBoltContext) -> None:
        # The same event fires for the Messages tab, which has nothing to render.
        if event.get("tab") != "home" or context.team_id is None:
            return
        await services.home.publish(context.team_id, event["user"])

    app.event(ids.APP_HOME_OPENED)(limit.after_ack(home_opened))
