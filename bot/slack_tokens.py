"""Install mode: each workspace's bot token, from the installation store, rotated before use.

Slack's token rotation gives 12-hour bot tokens and single-use refresh tokens. Bolt rotates
only while it authorizes an incoming request; the outbox's scheduled sends come here instead
(:meth:`InstalledClients.for_workspace`), and so do Bolt's authorizations, so that a token is
rotated in one place, by one process at a time (a lease in the database), and saved at once.

slack-sdk's rotator and Installation stamp times with the system clock; the bot decides with
its own clock (:mod:`bot.clock`), so the times it stores are re-based on that clock.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import aiohttp
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.slack_api import (
    NOT_INSTALLED,
    PERMANENT_ERRORS,
    BotToken,
    SlackClients,
    SlackGateway,
    SlackUnavailable,
)
from bot.store import leases
from bot.store.slack_stores import InstallationStore

log = logging.getLogger(__name__)

# How long before a rotating token expires it is rotated (Bolt's
# token_rotation_expiration_minutes, passed to it as well).
ROTATE_BEFORE = timedelta(minutes=120)
ROTATION_LEASE = timedelta(seconds=30)
ROTATION_WAIT = 10.0  # seconds to wait for another process's rotation of an expired token
ROTATION_POLL = 0.1


def rebase(system_epoch: int, clock: Clock) -> int:
    """A moment slack-sdk stamped with the system clock (epoch seconds), on the bot's clock."""
    return int(clock.now().timestamp()) + (system_epoch - int(time.time()))


class InstalledClients(SlackClients):
    def __init__(
        self,
        *,
        store: InstallationStore,
        rotator: AsyncTokenRotator,
        make_client: Callable[[str], AsyncWebClient],
        db: async_sessionmaker[AsyncSession],
        read: async_sessionmaker[AsyncSession],
        clock: Clock,
    ) -> None:
        self.store = store
        self.rotator = rotator
        self.make_client = make_client
        self.db = db
        self.read = read
        self.clock = clock

    def rate_scope(self, workspace_id: str) -> str:
        """Each workspace has its own token, so its own rate limits."""
        return workspace_id

    async def for_workspace(self, workspace_id: str) -> SlackGateway:
        workspace = await self.workspace(workspace_id)
        if workspace is None:
            raise SlackUnavailable(NOT_INSTALLED, permanent=True)
        bot = await self.bot_token(workspace.enterprise_id, workspace.id, workspace.org_install)
        if bot is None:
            raise SlackUnavailable(NOT_INSTALLED, permanent=True)
        return SlackGateway(self.make_client(bot.token))

    async def bot_token(
        self, enterprise_id: str | None, team_id: str | None, org_install: bool
    ) -> BotToken | None:
        team = None if org_install else team_id
        bot = await self._find(enterprise_id, team)
        if bot is not None and self._due(bot):
            bot = await self._rotated(enterprise_id, team, bot)
        if bot is None or not bot.bot_token:
            return None
        return BotToken(
            token=bot.bot_token,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            enterprise_id=bot.enterprise_id,
            team_id=team_id,
            scopes=tuple(bot.bot_scopes),
        )

    async def forget(
        self, enterprise_id: str | None, team_id: str | None, bot_only: bool = False
    ) -> None:
        if bot_only:
            await self.store.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        else:
            await self.store.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)

    async def _find(self, enterprise_id: str | None, team_id: str | None) -> Bot | None:
        return await self.store.async_find_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=team_id is None
        )

    def _left(self, bot: Bot) -> float:
        assert bot.bot_token_expires_at is not None
        return bot.bot_token_expires_at - self.clock.now().timestamp()

    def _due(self, bot: Bot) -> bool:
        if bot.bot_token_expires_at is None or not bot.bot_refresh_token:
            return False  # token rotation is off for this app: the token does not expire
        return self._left(bot) <= ROTATE_BEFORE.total_seconds()

    async def _rotated(self, enterprise_id: str | None, team_id: str | None, bot: Bot) -> Bot:
        """The bot with a fresh token: rotated here under the lease, or by whoever holds it."""
        name = f"slack-token:{enterprise_id or '-'}:{team_id or '-'}"
        owner = str(uuid.uuid4())
        if not await leases.take(self.db, name, owner, self.clock.now(), ROTATION_LEASE):
            if self._left(bot) > 0:
                return bot  # still valid for a while: another process is rotating it
            return await self._wait_for_rotation(enterprise_id, team_id)
        try:
            # Re-read: another process may have rotated it just before we took the lease.
            fresh = await self._find(enterprise_id, team_id)
            if fresh is None or not self._due(fresh):
                return fresh or bot
            rotated = await self._rotate(fresh)
            await self.store.async_save_bot(rotated)
            log.info("rotated the bot token of %s", team_id or enterprise_id)
            return rotated
        finally:
            await leases.release(self.db, name, owner)

    async def _rotate(self, bot: Bot) -> Bot:
        # The bot decided that rotation is due (by its clock); the rotator, which asks the
        # system clock, is told that it is.
        forced = Bot(**bot.to_dict_for_copying())
        forced.bot_token_expires_at = 0
        try:
            rotated = await self.rotator.perform_bot_token_rotation(
                bot=forced, minutes_before_expiration=0
            )
        except SlackTokenRotationError as err:
            raise _unavailable(err.api_error) from err
        except (TimeoutError, aiohttp.ClientError) as err:
            raise SlackUnavailable(type(err).__name__) from err
        if rotated is None:  # Slack answered with something other than a bot token
            raise SlackUnavailable("invalid_refresh_token", permanent=True)
        if rotated.bot_token_expires_at is not None:
            rotated.bot_token_expires_at = rebase(rotated.bot_token_expires_at, self.clock)
        return rotated

    async def _wait_for_rotation(self, enterprise_id: str | None, team_id: str | None) -> Bot:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ROTATION_WAIT
        while loop.time() < deadline:
            await asyncio.sleep(ROTATION_POLL)
            bot = await self._find(enterprise_id, team_id)
            if bot is not None and self._left(bot) > 0:
                return bot
        raise SlackUnavailable("token_expired")  # transient: the other rotation may finish


def _unavailable(err: SlackApiError) -> SlackUnavailable:
    error = str(err.response.get("error", "error"))
    if err.response.status_code == 429 or err.response.status_code >= 500:
        return SlackUnavailable(f"HTTP {err.response.status_code}")
    return SlackUnavailable(error, permanent=error in PERMANENT_ERRORS)
