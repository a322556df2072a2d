"""One error handler for every listener, and what to do with Slack's retries."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.blocks.texts import SOMETHING_WENT_WRONG
from bot.services import Services

log = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    async def skip_timeout_retries(
        req: AsyncBoltRequest, next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        """A retry after ``http_timeout`` repeats a request already being handled: drop it.

        Other retry reasons mean the first delivery failed, so it is processed; the
        listeners are idempotent for that case.
        """
        reason = req.headers.get("x-slack-retry-reason", [""])[0]
        if req.headers.get("x-slack-retry-num") and reason == "http_timeout":
            log.info("ignored Slack retry (%s)", reason)
            return BoltResponse(status=200, body="")
        await next()
        return None

    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("listener failed: %s", type(error).__name__, exc_info=error)
        response_url = body.get("response_url")
        if response_url:
            webhook = AsyncWebhookClient(response_url)
            await webhook.send(
                text=SOMETHING_WENT_WRONG, response_type="ephemeral", replace_original=False
            )

    app.middleware(skip_timeout_retries)
    app.error(on_error)
