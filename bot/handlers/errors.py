"""One error handler for every listener, and what to do with Slack's retries."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.blocks.texts import SOMETHING_WENT_WRONG
from bot.services import Services
from bot.slack_api import SlackUnavailable

log = logging.getLogger(__name__)

# Failures of Slack itself (down, unreachable, refusing): worth a line, not a traceback.
SLACK_FAILURES = (SlackUnavailable, SlackApiError, aiohttp.ClientError, TimeoutError)


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

    async def on_error(
        error: Exception, body: dict[str, Any], response: BoltResponse | None
    ) -> BoltResponse | None:
        """Log, tell the person if we can, and never raise: this is the last handler there is.

        Slack being unreachable is logged in one line, not with a traceback per request. A
        failure before the ack (``response`` is set) is answered 200 rather than 500: the
        person gets the sentence below, and Slack does not retry what would fail again.
        """
        if isinstance(error, SLACK_FAILURES):
            log.warning("Slack call failed: %s", _slack_reason(error))
        else:
            log.error("listener failed: %s", type(error).__name__, exc_info=error)
        response_url = body.get("response_url")
        if response_url:
            try:
                await AsyncWebhookClient(response_url).send(
                    text=SOMETHING_WENT_WRONG, response_type="ephemeral", replace_original=False
                )
            except Exception as err:  # the handler of last resort must not raise
                log.warning("could not tell the person either: %s", type(err).__name__)
        return BoltResponse(status=200, body="") if response is not None else None

    app.middleware(skip_timeout_retries)
    app.error(on_error)


def _slack_reason(error: Exception) -> str:
    if isinstance(error, SlackUnavailable):
        return error.reason
    if isinstance(error, SlackApiError):
        return str(error.response.get("error", "error"))
    return type(error).__name__
