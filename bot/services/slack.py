"""The few Slack Web API calls that services make, through one injected client.

Every failure (Slack's ``ok: false``, a connection that fails after the client's retries,
a timeout) comes out as :class:`SlackUnavailable`, so callers handle one exception.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.blocks import Message

T = TypeVar("T")


class SlackUnavailable(Exception):
    """A Slack call failed; ``reason`` is Slack's error code or the kind of network failure."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SlackGateway:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def post(self, channel: str, message: Message, thread_ts: str | None = None) -> str:
        """Post ``message``; return its ts."""
        response = await _call(
            self.client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
            )
        )
        return str(response["ts"])

    async def update(self, channel: str, ts: str, message: Message) -> None:
        await _call(
            self.client.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=message.blocks
            )
        )

    async def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        await _call(self.client.views_publish(user_id=user_id, view=view))

    async def open_modal(self, trigger_id: str, view: dict[str, Any]) -> None:
        await _call(self.client.views_open(trigger_id=trigger_id, view=view))

    async def team(self) -> tuple[str, str | None]:
        """The bot token's workspace: (team id, team name)."""
        response = await _call(self.client.auth_test())
        return str(response["team_id"]), response.get("team")


async def _call(request: Awaitable[AsyncSlackResponse]) -> AsyncSlackResponse:
    try:
        return await request
    except SlackApiError as err:
        raise SlackUnavailable(str(err.response.get("error", "error"))) from err
    except (TimeoutError, aiohttp.ClientError) as err:
        raise SlackUnavailable(type(err).__name__) from err
