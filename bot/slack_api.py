"""The Slack Web API calls the bot makes, through injected clients, and what their failures mean.

Every failure (Slack's ``ok: false``, an HTTP error, a connection that fails, a timeout) comes
out as :class:`SlackUnavailable`, which says whether trying again can help (``permanent``) and
how long Slack asked us to wait (``retry_after``).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.blocks import Message

# Slack errors that the same call will meet again until a person changes something.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "no_permission",
        "restricted_action",
        "user_not_found",
        "cannot_dm_bot",
        "message_not_found",
        "cant_update_message",
        "msg_too_long",
        "invalid_blocks",
        "invalid_arguments",
        "no_text",
    }
)
# Of those, the ones that mean the bot's token itself is refused.
TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)


class SlackUnavailable(Exception):
    """A Slack call failed; ``reason`` is Slack's error code or the kind of network failure."""

    def __init__(
        self, reason: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


class SlackGateway:
    """One bot token's client."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def post(
        self,
        channel: str,
        message: Message,
        thread_ts: str | None = None,
        delivery_key: str | None = None,
    ) -> str:
        """Post ``message``; return its ts. ``delivery_key`` travels as message metadata, the
        same on every try, so a message can be traced to the outbox row that sent it."""
        metadata = (
            {"event_type": "sources_bot_delivery", "event_payload": {"key": delivery_key}}
            if delivery_key
            else None
        )
        response = await _call(
            self.client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
                metadata=metadata,
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


# The rate scope of a token every workspace shares.
ALL_WORKSPACES = "*"


class SlackClients:
    """The gateway to use for a workspace's sends.

    With one bot token (single-workspace mode) every workspace shares it.
    """

    def __init__(self, default: SlackGateway) -> None:
        self.default = default

    async def for_workspace(self, workspace_id: str) -> SlackGateway:
        return self.default

    def rate_scope(self, workspace_id: str) -> str:
        """Whose rate limits a send for ``workspace_id`` counts against: its token's. One bot
        token serves every workspace here (:data:`ALL_WORKSPACES`); with a token per
        workspace it is the workspace's id."""
        return ALL_WORKSPACES


async def _call(request: Awaitable[AsyncSlackResponse]) -> AsyncSlackResponse:
    try:
        return await request
    except SlackApiError as err:
        response = err.response
        error = str(response.get("error", "error"))
        status = response.status_code
        retry_after = _seconds(
            response.headers.get("retry-after") or response.headers.get("Retry-After")
        )
        if status == 429 or error == "ratelimited":
            raise SlackUnavailable("ratelimited", retry_after=retry_after) from err
        if status >= 500:
            raise SlackUnavailable(f"HTTP {status}", retry_after=retry_after) from err
        raise SlackUnavailable(error, permanent=error in PERMANENT_ERRORS) from err
    except (TimeoutError, aiohttp.ClientError) as err:
        raise SlackUnavailable(type(err).__name__) from err


def _seconds(value: Any) -> float | None:
    try:
        return max(float(value), 0.0) if value is not None else None
    except (TypeError, ValueError):
        return None
