"""Bolt's authorization of each incoming request: the workspace's own bot token.

Passed to AsyncApp as ``authorize`` in both modes, so that which mode runs is decided by the
bot's settings and never by Bolt finding SLACK_CLIENT_ID in ``os.environ``, and so that
tokens come from the one place that rotates them (:mod:`bot.slack_tokens`).
"""

from __future__ import annotations

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext

from bot.services import Services


class WorkspaceAuthorize(AsyncAuthorize):
    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,  # None for an org-wide install's org-level requests
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        install_mode = self.services.ctx.settings.install_mode
        org_install = bool(context.is_enterprise_install)
        bot = await self.services.ctx.slack_clients.bot_token(enterprise_id, team_id, org_install)
        if bot is None:
            return None  # Bolt tells the person the app must be installed again
        if team_id is not None:
            workspace = await self.services.workspaces.seen(
                team_id, enterprise_id, org_install, restore=not install_mode
            )
            if workspace.uninstalled_at is not None:
                return None
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            bot_token=bot.token,
            bot_scopes=list(bot.scopes) or None,
            user_id=user_id,
        )
