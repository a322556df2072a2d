"""The Slack Web API calls the bot makes, through injected clients, and what their failures mean.

Every failure (Slack's ``ok: false``, an HTTP error, a connection that fails, a timeout) comes
out as :class:`SlackUnavailable`, which says whether trying again can help (``permanent``) and
how long Slack asked us to wait (``retry_after``).
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.blocks import Message
from bot.domain import UserGroup
from bot.store.models import Workspace

# Reasons of our own, beside Slack's error codes: the workspace can get no client.
UNINSTALLED = "uninstalled"
NOT_INSTALLED = "not_installed"

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
        "invalid_refresh_token",
        "invalid_grant",
        UNINSTALLED,
        NOT_INSTALLED,
    }
)
# Of those, the ones that mean the bot's token itself is refused.
TOKEN_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "invalid_refresh_token",
        "invalid_grant",
    }
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


@dataclass(frozen=True)
class SlackUser:
    id: str
    admin: bool  # a workspace admin or owner
    tz: str | None


@dataclass(frozen=True)
class Channel:
    id: str
    private: bool
    member: bool  # the bot is in it
    archived: bool


@dataclass(frozen=True)
class BotToken:
    """A workspace's bot token and who the bot is there, as Bolt needs to authorize a request."""

    token: str = field(repr=False)
    bot_id: str | None
    bot_user_id: str | None
    enterprise_id: str | None = None
    team_id: str | None = None
    scopes: tuple[str, ...] = ()


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

    async def whoami(self) -> BotToken:
        """The bot behind this client's token (auth.test)."""
        response = await _call(self.client.auth_test())
        return BotToken(
            token=str(self.client.token),
            bot_id=response.get("bot_id"),
            bot_user_id=response.get("user_id"),
            enterprise_id=response.get("enterprise_id"),
            team_id=response.get("team_id"),
        )

    async def user(self, user_id: str) -> SlackUser:
        response = await _call(self.client.users_info(user=user_id))
        user: dict[str, Any] = response["user"]
        admin = any(user.get(flag) for flag in ("is_admin", "is_owner", "is_primary_owner"))
        return SlackUser(id=str(user["id"]), admin=admin, tz=user.get("tz"))

    async def admins(self, limit: int = 1000) -> list[str]:
        """The workspace's admins and owners (people, not bots or deleted accounts), owners
        first; at most ``limit`` people are looked through."""
        found: list[tuple[int, str]] = []
        cursor: str | None = None
        seen = 0
        while seen < limit:
            response = await _call(self.client.users_list(cursor=cursor, limit=200))
            members: list[dict[str, Any]] = response.get("members", [])
            seen += len(members)
            for user in members:
                if user.get("deleted") or user.get("is_bot") or user.get("id") == "USLACKBOT":
                    continue
                if user.get("is_primary_owner") or user.get("is_owner"):
                    found.append((0, str(user["id"])))
                elif user.get("is_admin"):
                    found.append((1, str(user["id"])))
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                break
        return [user_id for _, user_id in sorted(found)]

    async def group_members(self, group_id: str) -> list[str]:
        response = await _call(self.client.usergroups_users_list(usergroup=group_id))
        members: list[str] = response.get("users", [])
        return [str(member) for member in members]

    async def user_groups(self) -> list[UserGroup]:
        response = await _call(self.client.usergroups_list())
        groups: list[dict[str, Any]] = response.get("usergroups", [])
        return [
            UserGroup(id=str(group["id"]), handle=str(group.get("handle", "")), name=group["name"])
            for group in groups
            if not group.get("date_delete")
        ]

    async def channel(self, channel_id: str) -> Channel:
        response = await _call(self.client.conversations_info(channel=channel_id))
        channel = response["channel"]
        return Channel(
            id=str(channel["id"]),
            private=bool(channel.get("is_private")),
            member=bool(channel.get("is_member")),
            archived=bool(channel.get("is_archived")),
        )

    async def join(self, channel_id: str) -> None:
        await _call(self.client.conversations_join(channel=channel_id))


# The rate scope of a token every workspace shares.
ALL_WORKSPACES = "*"


class SlackClients:
    """The one place that gives a workspace's Web API client, and the bot token Bolt
    authorizes a workspace's requests with.

    Bot-token mode: one token serves the one workspace. Install mode (every workspace with
    its own token) is :class:`bot.slack_tokens.InstalledClients`. Both refuse, for good, a
    workspace marked uninstalled, so the outbox stops its sends at once.
    """

    def __init__(
        self, default: SlackGateway, read: async_sessionmaker[AsyncSession] | None = None
    ) -> None:
        self.default = default
        self.read = read
        self._identity: BotToken | None = None

    async def for_workspace(self, workspace_id: str) -> SlackGateway:
        await self.workspace(workspace_id)
        return self.default

    async def bot_token(
        self, enterprise_id: str | None, team_id: str | None, org_install: bool
    ) -> BotToken | None:
        """The token for a request from ``team_id``; None when the app is not installed."""
        if self._identity is None:  # who the one token is does not change while we run
            self._identity = await self.default.whoami()
        return self._identity

    async def forget(
        self, enterprise_id: str | None, team_id: str | None, bot_only: bool = False
    ) -> None:
        """Slack revoked the tokens: delete what is stored of the installation (install
        mode; the one bot token of bot-token mode is the operator's to change)."""

    async def workspace(self, workspace_id: str) -> Workspace | None:
        """The workspace's row (None if unknown); SlackUnavailable if it was uninstalled."""
        if self.read is None:
            return None
        async with self.read() as session:
            workspace = await session.get(Workspace, workspace_id)
        if workspace is not None and workspace.uninstalled_at is not None:
            raise SlackUnavailable(UNINSTALLED, permanent=True)
        return workspace

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
