"""Slack's install (OAuth v2) in install mode: Bolt's flow, with the bot's clock and pages.

``GET /slack/install`` sends the person to Slack (``SLACK_AUTHORIZE_URL``) with a state bound
to their browser by a cookie; ``GET /slack/oauth_redirect`` checks the state, exchanges the
code (``oauth.v2.access`` under ``SLACK_API_URL``), stores the installation (tokens
encrypted) and shows what to do next. An org-wide install that an admin starts from Slack's
admin pages comes back without a state: only such an install is accepted without one.
"""

from __future__ import annotations

import logging
from html import escape
from urllib.parse import urlencode

from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from bot.logs import hide_oauth_values
from bot.services import Services
from bot.services.installs import Installed
from bot.slack_api import SlackGateway
from bot.slack_tokens import ROTATE_BEFORE, InstalledClients, rebase
from bot.store.slack_stores import OAuthStateStore
from bot.web.pages import render

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600
# Exactly what manifest.yml asks for (tests/test_manifest.py checks that they agree).
BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "channels:join",
    "channels:read",
    "groups:read",
    "users:read",
    "usergroups:read",
)

_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

FAILURES = {
    "access_denied": ("✋", "Install cancelled", "Slack says the app was not allowed in."),
    "invalid_browser": (
        "🔒",
        "This install started in another browser",
        "For your safety an install finishes in the browser that started it.",
    ),
    "invalid_state": (
        "⌛",
        "This install link has expired or was already used",
        "Install links work once, for 10 minutes.",
    ),
    "missing_code": ("❓", "Slack sent no authorization code", "Nothing was installed."),
    "invalid_code": (
        "⚠️",
        "Slack did not accept the install",
        "The authorization code was refused or had already been used. Nothing was installed.",
    ),
    "storage_error": (
        "⚠️",
        "The install could not be saved",
        "The bot could not store the installation. Please try again in a few minutes.",
    ),
}


class InstallFlow(AsyncOAuthFlow):
    """Bolt's OAuth flow, stamping installations with the bot's clock."""

    def __init__(self, *, clock: Clock, client: AsyncWebClient, settings: AsyncOAuthSettings):
        super().__init__(client=client, logger=hide_oauth_values(log), settings=settings)
        self.clock = clock

    async def run_installation(self, code: str) -> Installation | None:
        installation = await super().run_installation(code)
        if installation is not None:
            # slack-sdk stamps the system clock; the bot decides expiry with its own.
            installation.installed_at = self.clock.now().timestamp()
            if installation.bot_token_expires_at is not None:
                installation.bot_token_expires_at = rebase(
                    installation.bot_token_expires_at, self.clock
                )
        return installation

    async def handle_callback(self, request: AsyncBoltRequest) -> BoltResponse:
        query = request.query
        if query.get("state") or not query.get("code") or query.get("error"):
            return await super().handle_callback(request)
        return await self._org_install_from_admin_pages(request, query["code"][0])

    async def _org_install_from_admin_pages(
        self, request: AsyncBoltRequest, code: str
    ) -> BoltResponse:
        installation = await self.run_installation(code)
        if installation is None:
            return await self._failed(request, "invalid_code", 401)
        if not installation.is_enterprise_install:
            # Only Slack's admin pages skip the state; anything else must come from
            # /slack/install. The token this made is revoked, so nothing dangles.
            try:
                await self.client.auth_revoke(token=installation.bot_token)
            except SlackApiError as err:
                log.warning(
                    "could not revoke a refused install's token: %s", err.response.get("error")
                )
            return await self._failed(request, "invalid_browser", 400)
        await self.store_installation(request, installation)
        return await self.success_handler(
            AsyncSuccessArgs(
                request=request,
                installation=installation,
                settings=self.settings,
                default=self.default_callback_options,
            )
        )

    async def _failed(self, request: AsyncBoltRequest, reason: str, status: int) -> BoltResponse:
        return await self.failure_handler(
            AsyncFailureArgs(
                request=request,
                reason=reason,
                suggested_status_code=status,
                settings=self.settings,
                default=self.default_callback_options,
            )
        )


def install_flow(services: Services, clients: InstalledClients, engine: AsyncEngine) -> InstallFlow:
    """The install flow of install mode, explicit in every setting (none from os.environ)."""
    ctx = services.ctx
    settings = ctx.settings
    assert settings.slack_client_id and settings.slack_client_secret

    async def success(args: AsyncSuccessArgs) -> BoltResponse:
        installation = args.installation
        assert installation.bot_token is not None
        gateway = SlackGateway(
            AsyncWebClient(token=installation.bot_token, base_url=settings.slack_api_url),
            ctx.metrics,
        )
        await services.installs.installed(
            Installed(
                enterprise_id=installation.enterprise_id,
                team_id=installation.team_id,
                team_name=installation.team_name or installation.enterprise_name,
                org_install=bool(installation.is_enterprise_install),
                user_id=installation.user_id,
            ),
            gateway,
        )
        forget_state = args.settings.state_utils.build_set_cookie_for_deletion()
        return BoltResponse(
            status=200,
            body=success_page(installation),
            headers={**_HEADERS, "Set-Cookie": forget_state},
        )

    async def failure(args: AsyncFailureArgs) -> BoltResponse:
        log.info("Slack install failed: %s", args.reason)
        forget_state = args.settings.state_utils.build_set_cookie_for_deletion()
        return BoltResponse(
            status=args.suggested_status_code,
            body=failure_page(args.reason, settings.public_url),
            headers={**_HEADERS, "Set-Cookie": forget_state},
        )

    return InstallFlow(
        clock=ctx.clock,
        client=ctx.slack.client,  # SLACK_API_URL: oauth.v2.access and auth.test go there
        settings=AsyncOAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret,
            scopes=list(BOT_SCOPES),
            user_scopes=[],
            redirect_uri=f"{settings.public_url}{REDIRECT_PATH}",
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
            install_page_rendering_enabled=False,  # straight to Slack
            callback_options=AsyncCallbackOptions(success=success, failure=failure),
            authorization_url=settings.slack_authorize_url,
            installation_store=clients.store,
            installation_store_bot_only=True,
            token_rotation_expiration_minutes=int(ROTATE_BEFORE.total_seconds() // 60),
            state_store=OAuthStateStore(engine, STATE_SECONDS),
            state_expiration_seconds=STATE_SECONDS,
        ),
    )


def success_page(installation: Installation) -> str:
    where = installation.team_name or installation.enterprise_name or "your workspace"
    team = installation.team_id or installation.enterprise_id or ""
    app = installation.app_id or ""
    open_url = "https://slack.com/app_redirect?" + urlencode({"app": app, "team": team})
    return render(
        "✅",
        f"sources-bot is installed in {where}",
        f'Next: <a href="{escape(open_url)}">open sources-bot in Slack</a> and go to its '
        "<b>Home</b> tab.",
        "There, click <b>Settings</b> to choose the channel for notices and the daily digest "
        "(and who may connect sources and change settings), then connect your team's first "
        "account with a <b>Connect</b> button, or type <code>/sources connect linkedin</code> "
        "in any channel.",
        "You can close this tab.",
    )


def failure_page(reason: str, public_url: str) -> str:
    icon, title, text = FAILURES.get(
        reason, ("⚠️", "The install did not finish", "Nothing was installed.")
    )
    again = f"{public_url}{INSTALL_PATH}"
    return render(
        icon,
        title,
        escape(text),
        f'<a href="{escape(again)}">Start the install again</a>.',
    )
