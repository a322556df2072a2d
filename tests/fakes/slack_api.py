"""A fake Slack Web API served over real HTTP on 127.0.0.1, for slack_sdk / Bolt clients.

Usage (inside a pytest-asyncio test or fixture)::

    fake = FakeSlack()
    await fake.start()
    client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
    ...
    await fake.stop()
    assert fake.violations == []

Every request is recorded as a :class:`Call`. Block Kit payloads are validated with
``blockkit``; problems are collected in ``fake.violations`` (the call still answers ok).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from blockkit import validate_message, validate_view

from fakes.server import Handler, LocalServer
from fakes.socket_mode import FakeSocketMode

MESSAGE_METHODS = frozenset(
    {"chat.postMessage", "chat.update", "chat.postEphemeral", "response_url"}
)
VIEW_METHODS = frozenset({"views.publish", "views.open", "views.update"})
# Form-encoded bodies carry these as JSON strings; they are decoded before recording.
JSON_FIELDS = ("blocks", "view", "attachments", "metadata")
RESPONSE_URL_METHOD = "response_url"


@dataclass(frozen=True)
class Call:
    """One request the fake received.

    ``method`` is the Web API method ("chat.postMessage") or "response_url"; ``args`` is the
    merged query + body arguments (JSON-string fields decoded); ``token`` the bearer token (or
    the ``token`` argument) if any. ``failed`` is True when the fake did not answer ok (bad
    token, injected failure, missing argument, spent response_url). ``response`` is the JSON
    body that was sent back; ``name`` is the response_url name for "response_url" calls.
    """

    method: str
    args: dict[str, Any]
    token: str | None
    failed: bool = False
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict, compare=False)
    name: str | None = None


@dataclass
class FakeTeam:
    """A workspace: its people, user groups and channels, as Slack's methods show them."""

    id: str
    name: str
    domain: str
    bot_user_id: str
    bot_id: str
    enterprise_id: str | None = None
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Approval:
    """What a person approves on Slack's install page (the next install is theirs)."""

    team_id: str | None  # None for an org-wide install
    user_id: str
    enterprise_id: str | None = None
    org_install: bool = False
    rotation: bool = False  # the app has token rotation on: 12-hour tokens, refresh tokens
    redirect_uri: str | None = None


@dataclass
class IssuedToken:
    """A bot token the fake issued through oauth.v2.access."""

    team_id: str | None
    enterprise_id: str | None
    expires_at: datetime | None = None
    revoked: bool = False


@dataclass
class _Failure:
    error: str
    status: int
    retry_after: int | None
    times: int


class FakeSlack(LocalServer):
    """Fake Slack Web API server. See module docstring."""

    def __init__(
        self,
        *,
        team_id: str = "T0001",
        team_domain: str = "acme",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0APP",
        response_url_max_uses: int | None = 5,
        client_id: str = "1111.2222",
        client_secret: str = "fake-slack-client-secret",
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.response_url_max_uses = response_url_max_uses
        self.calls: list[Call] = []
        self.violations: list[str] = []
        # Latest content of each message posted or updated: (channel, ts) -> message dict.
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        # Latest view per view id, and the Home tab view id of each user.
        self.views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, str] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._held: set[str] = set()
        self._holding: dict[str, int] = {}
        self._response_url_uses: dict[str, int] = {}
        self._ts_counter = 0
        self._view_counter = 0
        self._changed: asyncio.Condition | None = None
        # Workspaces, the installs people approve, and the tokens the fake issued. Tokens
        # starting with xoxb- that it did not issue belong to the default team (bot-token
        # mode's SLACK_BOT_TOKEN).
        self.teams: dict[str, FakeTeam] = {}
        self.add_team(team_id, "Acme", team_domain, bot_user_id=bot_user_id, bot_id=bot_id)
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.next_approval: Approval | None = None
        self.authorize_requests: list[dict[str, str]] = []
        self.codes: dict[str, Approval] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> the bot token it renews
        self.socket_mode = FakeSocketMode(app_id)
        self._ratelimited: int | None = None
        self._channel_interval: float | None = None
        self._last_post: dict[str, float] = {}

    # --- lifecycle -------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("*", "/api/{method}", self._handle_api),
            ("POST", "/response/{name}", self._handle_response_url),
            ("GET", "/oauth/v2/authorize", self._handle_authorize),
            ("GET", "/link/", self.socket_mode.handle),
        ]

    async def stop(self) -> None:
        await self.socket_mode.close()
        await super().stop()

    @property
    def authorize_url(self) -> str:
        """Slack's install page (SLACK_AUTHORIZE_URL)."""
        return f"{self.base_url}/oauth/v2/authorize"

    async def start(self) -> None:
        self._changed = asyncio.Condition()
        await super().start()

    @property
    def api_url(self) -> str:
        """Base URL for AsyncWebClient(base_url=...) / SLACK_API_URL; ends with /api/."""
        return f"{self.base_url}/api/"

    def response_url(self, name: str = "r") -> str:
        """A response_url on this server; posts to it are recorded as method "response_url"."""
        return f"{self.base_url}/response/{name}"

    # --- test helpers ----------------------------------------------------------------------

    def fail(
        self,
        method: str,
        error: str = "ratelimited",
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` answer HTTP ``status`` with
        {"ok": false, "error": error} (and Retry-After when ``retry_after`` is not None).
        Injected failures queue up in order."""
        self._failures.setdefault(method, []).append(_Failure(error, status, retry_after, times))

    def rate_limit_everything(self, retry_after: int = 30) -> None:
        """Answer every Web API call with HTTP 429 and Retry-After until
        :meth:`end_rate_limit`, as Slack does to an app that overdid it."""
        self._ratelimited = retry_after

    def end_rate_limit(self) -> None:
        self._ratelimited = None

    def limit_channels(self, interval: float) -> None:
        """Enforce Slack's posting limit: a chat.postMessage to a channel less than
        ``interval`` seconds (real time) after the last one accepted there gets a 429."""
        self._channel_interval = interval

    def hold(self, method: str) -> None:
        """Calls of ``method`` get no answer (and post nothing) until stop(): a request that
        Slack never received, as when the caller dies or the network drops it."""
        self._held.add(method)

    def held(self, method: str) -> int:
        """How many calls of ``method`` are being held."""
        return self._holding.get(method, 0)

    def add_team(
        self,
        team_id: str,
        name: str,
        domain: str | None = None,
        *,
        enterprise_id: str | None = None,
        bot_user_id: str | None = None,
        bot_id: str | None = None,
    ) -> FakeTeam:
        team = FakeTeam(
            id=team_id,
            name=name,
            domain=domain or name.lower(),
            bot_user_id=bot_user_id or f"U0BOT{team_id}",
            bot_id=bot_id or f"B0BOT{team_id}",
            enterprise_id=enterprise_id,
        )
        self.teams[team_id] = team
        return team

    def add_user(
        self,
        user_id: str,
        team_id: str | None = None,
        *,
        admin: bool = False,
        owner: bool = False,
        tz: str = "America/New_York",
    ) -> None:
        team = self.teams[team_id or self.team_id]
        team.users[user_id] = {
            "id": user_id,
            "team_id": team.id,
            "name": user_id.lower(),
            "is_bot": False,
            "is_admin": admin or owner,
            "is_owner": owner,
            "is_primary_owner": False,
            "tz": tz,
            "tz_label": tz,
            "tz_offset": 0,
        }

    def add_usergroup(
        self, group_id: str, handle: str, users: list[str], team_id: str | None = None
    ) -> None:
        team = self.teams[team_id or self.team_id]
        team.groups[group_id] = {
            "id": group_id,
            "team_id": team.id,
            "name": handle.replace("-", " ").title(),
            "handle": handle,
            "date_delete": 0,
            "users": list(users),
        }

    def add_channel(
        self,
        channel_id: str,
        name: str,
        team_id: str | None = None,
        *,
        private: bool = False,
        archived: bool = False,
        bot_member: bool = False,
    ) -> None:
        team = self.teams[team_id or self.team_id]
        team.channels[channel_id] = {
            "id": channel_id,
            "name": name,
            "is_channel": not private,
            "is_group": private,
            "is_private": private,
            "is_archived": archived,
            "members": {team.bot_user_id} if bot_member else set(),
        }

    def approve_next_install(self, approval: Approval) -> None:
        """The next visit to the install page approves ``approval`` (else: access_denied)."""
        self.next_approval = approval

    def issue_code(self, approval: Approval) -> str:
        """A code as Slack gives one for an install (also one started from the admin pages,
        which carries no state)."""
        code = f"code-{secrets.token_hex(8)}"
        self.codes[code] = approval
        return code

    def team_of(self, token: str | None) -> str | None:
        """Which workspace (or org, for an org-wide install) a token belongs to."""
        issued = self.tokens.get(token or "")
        if issued is not None:
            return issued.team_id or issued.enterprise_id
        return self.team_id if token and token.startswith("xoxb-") else None

    def calls_to(self, method: str, *, include_failed: bool = True) -> list[Call]:
        return [c for c in self.calls if c.method == method and (include_failed or not c.failed)]

    def successful_calls(self, method: str) -> list[Call]:
        return self.calls_to(method, include_failed=False)

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the helper's contract
    ) -> list[Call]:
        """Wait until ``count`` successful calls of ``method`` were recorded; return them all."""
        if self._changed is None:
            raise RuntimeError("FakeSlack is not started")
        changed = self._changed
        try:
            async with asyncio.timeout(timeout), changed:
                await changed.wait_for(lambda: len(self.successful_calls(method)) >= count)
        except TimeoutError:
            seen = "\n".join(f"  {c!r}" for c in self.calls) or "  (none)"
            raise AssertionError(
                f"timed out after {timeout}s waiting for {count} successful {method} call(s); "
                f"got {len(self.successful_calls(method))}. Calls so far:\n{seen}"
            ) from None
        return self.successful_calls(method)

    async def wait_for_held(
        self,
        method: str,
        timeout: float = 10.0,  # noqa: ASYNC109 - part of the helper's contract
    ) -> None:
        """Wait until a call of ``method`` is being held."""
        if self._changed is None:
            raise RuntimeError("FakeSlack is not started")
        changed = self._changed
        async with asyncio.timeout(timeout), changed:
            await changed.wait_for(lambda: self.held(method) > 0)

    def reset(self) -> None:
        """Forget recorded calls. Violations, injected failures and Slack-side state (messages,
        views, response_url uses) are kept, so a teardown check of ``violations`` still sees
        everything."""
        self.calls.clear()

    # --- request handling ------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            args = await _read_args(request)
        except ValueError:
            body = {"ok": False, "error": "invalid_json"}
            return await self._answer(method, {}, None, 200, body)
        if method == "oauth.v2.access":  # the app's credentials, not a token
            injected = self._take_failure(method)
            if injected is not None:
                return await self._answer_failure(method, _redacted(args), None, injected)
            body = self._oauth_access(request, args)
            return await self._answer(method, _redacted(args), None, 200, body)
        token = _bearer(request.headers.get("Authorization"))
        if token is None and isinstance(args.get("token"), str):
            token = args.pop("token")
        if method == "apps.connections.open":
            if token is None or not token.startswith("xapp-"):
                return await self._answer(method, args, None, 200, _error("invalid_auth"))
            url = f"ws://{self.base_url.removeprefix('http://')}/link/?ticket=t-{self._ts_counter}"
            return await self._answer(method, args, token, 200, {"ok": True, "url": url})
        refused = self._refuse(token)
        if refused is not None:
            return await self._answer(method, args, token, 200, _error(refused))
        assert token is not None
        self._validate(method, args)
        if method in self._held and self._release is not None:
            self._holding[method] = self._holding.get(method, 0) + 1
            if self._changed is not None:
                async with self._changed:
                    self._changed.notify_all()
            await self._release.wait()
            return web.json_response({"ok": False, "error": "held"}, status=503)
        injected = self._take_failure(method) or self._over_a_limit(method, args)
        if injected is not None:
            return await self._answer_failure(method, args, token, injected)
        handler = _METHODS.get(method)
        team_handler = _TEAM_METHODS.get(method)
        if team_handler is not None:
            body = team_handler(self, args, token)
        elif handler is not None:
            body = handler(self, args)
        else:
            body = {"ok": False, "error": "unknown_method"}
        return await self._answer(method, args, token, 200, body)

    def _refuse(self, token: str | None) -> str | None:
        """Why Slack would refuse ``token``, or None."""
        if token is None or not token.startswith(("xoxb-", "xoxe.xoxb-")):
            return "invalid_auth"
        issued = self.tokens.get(token)
        if issued is None:
            return None if token.startswith("xoxb-") else "invalid_auth"
        if issued.revoked:
            return "token_revoked"
        if issued.expires_at is not None and issued.expires_at <= self.now():
            return "token_expired"
        return None

    def _teams_of(self, token: str) -> list[FakeTeam]:
        """The workspaces a token reaches: its own, or every one of its org."""
        issued = self.tokens.get(token)
        if issued is None:
            return [self.teams[self.team_id]]
        if issued.team_id is not None:
            return [self.teams[issued.team_id]]
        return [t for t in self.teams.values() if t.enterprise_id == issued.enterprise_id]

    def _find(self, token: str, kind: str, key: str) -> tuple[FakeTeam, dict[str, Any]] | None:
        for team in self._teams_of(token):
            found = getattr(team, kind).get(key)
            if found is not None:
                return team, found
        return None

    # --- the install: Slack's page, and oauth.v2.access --------------------------------------

    async def _handle_authorize(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        self.authorize_requests.append(query)
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id or not redirect_uri:
            return web.Response(status=400, text="invalid client_id or redirect_uri")
        state = query.get("state", "")
        approval, self.next_approval = self.next_approval, None
        if approval is None:
            params = {"error": "access_denied", "state": state}
        else:
            approval.redirect_uri = redirect_uri
            params = {"code": self.issue_code(approval), "state": state}
        raise web.HTTPFound(f"{redirect_uri}?{urlencode(params)}")

    def _oauth_access(self, request: web.Request, args: dict[str, Any]) -> dict[str, Any]:
        client_id, client_secret = _basic(request.headers.get("Authorization"))
        client_id = client_id or args.get("client_id")
        client_secret = client_secret or args.get("client_secret")
        if client_id != self.client_id:
            return _error("invalid_client_id")
        if client_secret != self.client_secret:
            return _error("bad_client_secret")
        if args.get("grant_type") == "refresh_token":
            old = self.refresh_tokens.pop(str(args.get("refresh_token")), None)
            if old is None:  # unknown, or already used: refresh tokens are single use
                return _error("invalid_refresh_token")
            issued = self.tokens[old]
            return self._grant(issued.team_id, issued.enterprise_id, rotation=True)
        approval = self.codes.pop(str(args.get("code")), None)
        if approval is None:
            return _error("invalid_code")
        if approval.redirect_uri and args.get("redirect_uri") != approval.redirect_uri:
            return _error("bad_redirect_uri")
        granted = self._grant(
            None if approval.org_install else approval.team_id,
            approval.enterprise_id,
            approval.rotation,
        )
        granted["authed_user"] = {"id": approval.user_id}
        return granted

    def _grant(
        self, team_id: str | None, enterprise_id: str | None, rotation: bool
    ) -> dict[str, Any]:
        """Issue a bot token for the team (or the org, for an org-wide install)."""
        team = self.teams.get(team_id or "")
        now = self.now()
        prefix = "xoxe.xoxb-1-" if rotation else "xoxb-"
        token = f"{prefix}{team_id or enterprise_id}-{secrets.token_hex(12)}"
        self.tokens[token] = IssuedToken(
            team_id=team_id,
            enterprise_id=enterprise_id,
            expires_at=now + timedelta(seconds=ROTATING_TOKEN_SECONDS) if rotation else None,
        )
        granted: dict[str, Any] = {
            "ok": True,
            "app_id": self.app_id,
            "access_token": token,
            "token_type": "bot",
            "scope": "commands,chat:write",
            "bot_user_id": team.bot_user_id if team else f"U0BOT{enterprise_id}",
            "team": {"id": team.id, "name": team.name} if team else None,
            "enterprise": {"id": enterprise_id, "name": "Org"} if enterprise_id else None,
            "is_enterprise_install": team_id is None,
        }
        if rotation:
            refresh = f"xoxe-1-{secrets.token_hex(16)}"
            self.refresh_tokens[refresh] = token
            granted.update(refresh_token=refresh, expires_in=ROTATING_TOKEN_SECONDS)
        return granted

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        method = RESPONSE_URL_METHOD
        try:
            args = await _read_args(request)
            if isinstance(args.get("payload"), str) and len(args) == 1:
                args = _decode_json_fields(json.loads(args["payload"]))
        except ValueError:
            body = {"ok": False, "error": "invalid_json"}
            return await self._answer(method, {}, None, 400, body, name=name)
        self._validate(method, args)
        injected = self._take_failure(method)
        if injected is not None:
            return await self._answer_failure(method, args, None, injected, name=name)
        uses = self._response_url_uses.get(name, 0) + 1
        self._response_url_uses[name] = uses
        if self.response_url_max_uses is not None and uses > self.response_url_max_uses:
            self.violations.append(
                f"response_url: {request.path} used {uses} times; Slack allows "
                f"{self.response_url_max_uses} (it answers 404 used_url). Give each simulated "
                "interaction its own fake.response_url(name)."
            )
            body = {"ok": False, "error": "used_url"}
            return await self._answer(method, args, None, 404, body, name=name)
        return await self._answer(method, args, None, 200, {"ok": True}, name=name)

    def _over_a_limit(self, method: str, args: dict[str, Any]) -> _Failure | None:
        if self._ratelimited is not None and method != "auth.test":
            return _Failure("ratelimited", 429, self._ratelimited, 1)
        if self._channel_interval is None or method != "chat.postMessage":
            return None
        channel = str(args.get("channel"))
        now = time.monotonic()
        last = self._last_post.get(channel)
        if last is not None and now - last < self._channel_interval:
            return _Failure("ratelimited", 429, 1, 1)
        self._last_post[channel] = now
        return None

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    async def _answer_failure(
        self,
        method: str,
        args: dict[str, Any],
        token: str | None,
        failure: _Failure,
        *,
        name: str | None = None,
    ) -> web.Response:
        headers = {}
        if failure.retry_after is not None:
            headers["Retry-After"] = str(failure.retry_after)
        body = {"ok": False, "error": failure.error}
        return await self._answer(method, args, token, failure.status, body, headers, name=name)

    async def _answer(
        self,
        method: str,
        args: dict[str, Any],
        token: str | None,
        status: int,
        body: dict[str, Any],
        headers: Mapping[str, str] | None = None,
        *,
        name: str | None = None,
    ) -> web.Response:
        failed = status != 200 or body.get("ok") is not True
        call = Call(method, args, token, failed=failed, status=status, response=body, name=name)
        self.calls.append(call)
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()
        return web.json_response(body, status=status, headers=headers)

    def _validate(self, method: str, args: dict[str, Any]) -> None:
        if method in MESSAGE_METHODS:
            problems = validate_message(args)
        elif method in VIEW_METHODS:
            problems = validate_view(args.get("view"))
        else:
            return
        self.violations.extend(f"{method}: {p}" for p in problems)

    # --- id generators ---------------------------------------------------------------------

    def next_ts(self) -> str:
        """A new message ts, unique and increasing for this server."""
        self._ts_counter += 1
        micros = self._ts_counter * 100
        return f"{1_700_000_000 + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_view_id(self) -> str:
        self._view_counter += 1
        return f"V{self._view_counter:08d}"

    # --- methods ---------------------------------------------------------------------------

    def _auth_test(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        issued = self.tokens.get(token)
        if issued is not None and issued.team_id is None:  # an org-wide install's token
            return {
                "ok": True,
                "url": "https://org.enterprise.slack.com/",
                "team": "Org",
                "team_id": issued.enterprise_id,
                "enterprise_id": issued.enterprise_id,
                "user": "sources-bot",
                "user_id": f"U0BOT{issued.enterprise_id}",
                "bot_id": f"B0BOT{issued.enterprise_id}",
                "is_enterprise_install": True,
            }
        (team,) = self._teams_of(token)
        return {
            "ok": True,
            "url": f"https://{team.domain}.slack.com/",
            "team": team.name,
            "team_id": team.id,
            "enterprise_id": team.enterprise_id,
            "user": "sources-bot",
            "user_id": team.bot_user_id,
            "bot_id": team.bot_id,
            "is_enterprise_install": False,
        }

    def _auth_revoke(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        if token in self.tokens:
            self.tokens[token].revoked = True
        return {"ok": True, "revoked": True}

    def revoke(self, team_id: str) -> None:
        """The workspace uninstalled the app: every token of it stops working."""
        for issued in self.tokens.values():
            if issued.team_id == team_id or issued.enterprise_id == team_id:
                issued.revoked = True

    def _users_info(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        found = self._find(token, "users", str(args.get("user")))
        if found is None:
            return _error("user_not_found")
        return {"ok": True, "user": found[1]}

    def _users_list(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        """Every person of the token's workspaces, ``limit`` at a time with a cursor."""
        members = [user for team in self._teams_of(token) for user in team.users.values()]
        start = int(args.get("cursor") or 0)
        limit = int(args.get("limit") or 100)
        page = members[start : start + limit]
        following = str(start + limit) if start + limit < len(members) else ""
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": following}}

    def _usergroups_list(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        groups = [
            {k: v for k, v in group.items() if k != "users"}
            for team in self._teams_of(token)
            for group in team.groups.values()
        ]
        return {"ok": True, "usergroups": groups}

    def _usergroups_users_list(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        found = self._find(token, "groups", str(args.get("usergroup")))
        if found is None:
            return _error("no_such_subteam")
        return {"ok": True, "users": list(found[1]["users"])}

    def _channel_view(self, team: FakeTeam, channel: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in channel.items() if k != "members"}
        shown["is_member"] = team.bot_user_id in channel["members"]
        return shown

    def _conversations_info(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        found = self._find(token, "channels", str(args.get("channel")))
        if found is None:
            return _error("channel_not_found")
        team, channel = found
        if channel["is_private"] and team.bot_user_id not in channel["members"]:
            return _error("channel_not_found")  # Slack hides private channels from outsiders
        return {"ok": True, "channel": self._channel_view(team, channel)}

    def _conversations_join(self, args: dict[str, Any], token: str) -> dict[str, Any]:
        found = self._find(token, "channels", str(args.get("channel")))
        if found is None:
            return _error("channel_not_found")
        team, channel = found
        if channel["is_private"]:
            return _error("method_not_supported_for_channel_type")
        if channel["is_archived"]:
            return _error("is_archived")
        channel["members"].add(team.bot_user_id)
        return {"ok": True, "channel": self._channel_view(team, channel)}

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not _has_content(args):
            return {"ok": False, "error": "no_text"}
        ts = self.next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "text": args.get("text", ""),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": ts,
        }
        for key in ("blocks", "attachments", "metadata"):
            if key in args:
                message[key] = args[key]
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        ts = args.get("ts")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not ts:
            return {"ok": False, "error": "message_not_found"}
        if not _has_content(args):
            return {"ok": False, "error": "no_text"}
        previous = self.messages.get((channel, ts), {})
        message = {**previous, "text": args.get("text", ""), "ts": ts, "edited": {"ts": ts}}
        for key in ("blocks", "attachments"):
            if key in args:
                message[key] = args[key]
        self.messages[(channel, ts)] = message
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": args.get("text", ""),
            "message": message,
        }

    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("user"):
            return {"ok": False, "error": "user_not_found"}
        if not _has_content(args):
            return {"ok": False, "error": "no_text"}
        return {"ok": True, "message_ts": self.next_ts()}

    def _view_answer(self, view: Any, view_id: str, extra: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        stored = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{1_700_000_000 + self._view_counter}.{view_id.lower()}",
            "title": view.get("title"),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "clear_on_close": view.get("clear_on_close", False),
            "notify_on_close": view.get("notify_on_close", False),
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
            **extra,
        }
        self.views[view_id] = stored
        return {"ok": True, "view": stored}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = args.get("user_id")
        if not user_id:
            return {"ok": False, "error": "invalid_arguments"}
        view_id = self.home_views.get(user_id) or self._next_view_id()
        answer = self._view_answer(args.get("view"), view_id, {})
        if answer["ok"]:
            self.home_views[user_id] = view_id
        return answer

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("trigger_id"):
            return {"ok": False, "error": "invalid_arguments"}
        return self._view_answer(args.get("view"), self._next_view_id(), {})

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = args.get("view_id")
        if not view_id and args.get("external_id"):
            view_id = next(
                (
                    vid
                    for vid, v in self.views.items()
                    if v.get("external_id") == args["external_id"]
                ),
                None,
            )
            if view_id is None:
                return {"ok": False, "error": "not_found"}
        if not view_id:
            return {"ok": False, "error": "invalid_arguments"}
        return self._view_answer(args.get("view"), view_id, {})

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = args.get("users")
        if isinstance(users, list):
            users = ",".join(users)
        if not users:
            if args.get("channel"):
                return {"ok": True, "channel": {"id": args["channel"]}}
            return {"ok": False, "error": "users_list_not_supplied"}
        first = str(users).split(",")[0].strip()
        return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": "D" + first}}


ROTATING_TOKEN_SECONDS = 12 * 3600

_METHODS = {
    "chat.postMessage": FakeSlack._post_message,
    "chat.update": FakeSlack._update,
    "chat.postEphemeral": FakeSlack._post_ephemeral,
    "views.publish": FakeSlack._views_publish,
    "views.open": FakeSlack._views_open,
    "views.update": FakeSlack._views_update,
    "conversations.open": FakeSlack._conversations_open,
}
# Methods whose answer depends on whose token called.
_TEAM_METHODS = {
    "auth.test": FakeSlack._auth_test,
    "auth.revoke": FakeSlack._auth_revoke,
    "users.info": FakeSlack._users_info,
    "users.list": FakeSlack._users_list,
    "usergroups.list": FakeSlack._usergroups_list,
    "usergroups.users.list": FakeSlack._usergroups_users_list,
    "conversations.info": FakeSlack._conversations_info,
    "conversations.join": FakeSlack._conversations_join,
}


def _error(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}


def _redacted(args: dict[str, Any]) -> dict[str, Any]:
    """oauth.v2.access's arguments as recorded: without the secret, code or refresh token."""
    return {k: v for k, v in args.items() if k not in {"client_secret", "code", "refresh_token"}}


def _basic(header: str | None) -> tuple[str | None, str | None]:
    if not header or not header.lower().startswith("basic "):
        return None, None
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


def _has_content(args: Mapping[str, Any]) -> bool:
    return bool(args.get("text") or args.get("blocks") or args.get("attachments"))


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _decode_json_fields(args: dict[str, Any]) -> dict[str, Any]:
    for key in JSON_FIELDS:
        value = args.get(key)
        if isinstance(value, str):
            # Undecodable values stay as sent; the validator reports them.
            with contextlib.suppress(ValueError):
                args[key] = json.loads(value)
    return args


async def _read_args(request: web.Request) -> dict[str, Any]:
    """Merge query-string and body arguments the way Slack does (JSON or form bodies)."""
    args: dict[str, Any] = dict(request.query)
    raw = await request.text()
    if raw:
        if request.content_type == "application/json":
            body = json.loads(raw)
            if isinstance(body, dict):
                args.update(body)
        else:
            args.update(dict(parse_qsl(raw, keep_blank_values=True)))
    return _decode_json_fields(args)
