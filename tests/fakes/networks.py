"""Fake OAuth providers and identity APIs for the seven networks, over real HTTP.

Each fake is an ``aiohttp.web`` server on 127.0.0.1 (random port) serving the network's real
paths, so the bot's HTTP code runs unchanged against it: point the bot at ``fake.env()``.

    async with FakeX() as x:
        x.add_account("2244994945", "X Dev", username="XDevelopers")
        settings = Settings.from_env({**base_env, **x.env()})

The person at the browser is chosen with :meth:`FakeNetwork.login_as` (default: the only
account). A test plays the browser by GETting the authorize URL without following the redirect
and reading ``code``/``state`` from the ``Location`` header.

What each fake does (and where the behaviour comes from) is in the class docstrings; "docs"
means the network's own developer documentation, "3P" third-party code or issue threads,
"NETWORKS.md" the team's notes, "guess" nobody found it anywhere: every guessed answer is a class
attribute so a test can change it.

Shared machinery (:class:`FakeNetwork`):

* ``urls`` / ``env()``: the bot's URL keys mapped to this server (``{NAME}_{KEY}_URL``).
* accounts: ``add_account``, ``login_as``, ``deny_next``.
* codes: single use (a second use is refused and revokes what the first produced), 10 minutes,
  bound to client id and redirect_uri; PKCE (S256 or plain) is checked whenever a challenge
  was sent.
* tokens: ``issue_tokens`` (no browser), ``issued_access_tokens``, ``issued_refresh_tokens``,
  ``token_is_live``, ``token`` (the record), ``revoke`` (every token of an account),
  ``refresh_uses`` (how many times a refresh token -- or, for Instagram/Facebook, the token
  being renewed -- was presented).
* time: ``now`` (a callable, default real UTC time), ``freeze``, ``advance``.
* failures: ``fail(key, status, times, body, retry_after)``, ``hang(key, seconds)``,
  ``slow(key, seconds)`` (every request takes that long);
  ``hold(key)`` makes every request to ``key`` wait until ``let_go()`` (``held`` counts those
  waiting, ``wait_for_held`` waits for some); a held request whose client has gone by then is
  dropped unanswered and unprocessed, as one that never fully reached the network. Keys are
  the URL keys plus ``"authorize"``, ``"refresh"`` (refresh-token grants only; for Instagram its
  own URL) and ``"exchange"`` (Facebook ``fb_exchange_token`` grants; Instagram's own URL).
* records: ``authorize_requests``, ``token_requests`` (parameters of every token, exchange and
  refresh request) and ``requests`` (everything, as :class:`RecordedRequest`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from aiohttp import web

from fakes.server import Handler, LocalServer

GRAPH_VERSION = "v23.0"
_VERSION = r"{version:v[0-9]+\.[0-9]+}"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _real_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Account:
    account_id: str
    name: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Token:
    """One token the fake issued. ``kind`` is ``access``, ``refresh`` or ``page``."""

    value: str
    kind: str
    account_id: str
    scope: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime | None
    consented_at: datetime
    long_lived: bool = False
    page_id: str | None = None
    family: str = ""
    revoked: bool = False
    subcode: int | None = None
    spent: bool = False  # a rotated refresh token


@dataclass
class RecordedRequest:
    key: str
    method: str
    path: str
    params: dict[str, str]
    authorization: str | None


@dataclass
class _Code:
    value: str
    client_id: str
    redirect_uri: str
    account_id: str
    scope: tuple[str, ...]
    challenge: str | None
    method: str | None
    expires_at: datetime
    offline: bool
    used: bool = False
    issued: list[str] = field(default_factory=list)


@dataclass
class _Failure:
    status: int
    times: int
    body: Any
    retry_after: float | str | datetime | None


class FakeNetwork(LocalServer):
    """Shared machinery; one subclass per network. See the module docstring."""

    name: ClassVar[str] = ""
    # URL key -> path on this server, with any query the bot's catalogue URL carries.
    URL_PATHS: ClassVar[dict[str, str]] = {}
    CLIENT_ID_PARAM: ClassVar[str] = "client_id"
    # "post" (form body), "basic" (HTTP Basic), "basic_or_post", "query" (GET query string)
    CLIENT_AUTH: ClassVar[str] = "post"
    SCOPE_SEPARATOR: ClassVar[str] = " "
    SCOPE_REQUIRED: ClassVar[bool] = True
    RESPONSE_TYPE_OPTIONAL: ClassVar[bool] = False
    PKCE_REQUIRED: ClassVar[bool] = False
    HAS_REFRESH_TOKENS: ClassVar[bool] = True
    DEFAULT_SCOPES: ClassVar[tuple[str, ...]] = ()
    CODE_LIFETIME: ClassVar[timedelta] = timedelta(minutes=10)
    ACCESS_LIFETIME: ClassVar[timedelta] = timedelta(hours=1)
    REFRESH_LIFETIME: ClassVar[timedelta | None] = None
    # True: a refresh token dies a fixed time after the person's consent, however often it is
    # refreshed (LinkedIn, TikTok). False: each refresh token lives REFRESH_LIFETIME from issue.
    REFRESH_LIFETIME_FROM_CONSENT: ClassVar[bool] = False
    ACCESS_PREFIX: ClassVar[str] = ""
    REFRESH_PREFIX: ClassVar[str] = ""
    PAGE_PREFIX: ClassVar[str] = ""
    DEFAULT_REVOKE_SUBCODE: ClassVar[int | None] = None

    def __init__(
        self,
        *,
        client_id: str = "client-id",
        client_secret: str = "client-secret",
        redirect_uris: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        # None accepts any redirect_uri; a list requires an exact match (like app settings).
        self.redirect_uris = redirect_uris
        self.access_lifetime: timedelta = self.ACCESS_LIFETIME
        self.refresh_lifetime: timedelta | None = self.REFRESH_LIFETIME
        # Rotating networks: presenting a spent refresh token revokes its whole family (3P
        # claim for X; off by default).
        self.reuse_revokes_family = False
        self.now: Callable[[], datetime] = _real_now
        self.accounts: dict[str, Account] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.requests: list[RecordedRequest] = []
        self._logged_in: str | None = None
        self._deny_next: str | None = None
        self._codes: dict[str, _Code] = {}
        self._tokens: dict[str, Token] = {}
        self._presented: Counter[str] = Counter()
        self._failures: dict[str, list[_Failure]] = {}
        self._hangs: dict[str, float] = {}
        self._holds: dict[str, asyncio.Event] = {}
        self._latency: dict[str, float] = {}
        self.held: Counter[str] = Counter()
        self._held_changed = asyncio.Condition()
        self.dropped: list[RecordedRequest] = []  # held requests whose client had gone

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def urls(self) -> dict[str, str]:
        return {key: self.base_url + path for key, path in self.URL_PATHS.items()}

    def url(self, key: str) -> str:
        return self.urls[key]

    def env(self) -> dict[str, str]:
        prefix = self.name.upper()
        env = {f"{prefix}_CLIENT_ID": self.client_id, f"{prefix}_CLIENT_SECRET": self.client_secret}
        for key, url in self.urls.items():
            env[f"{prefix}_{key.upper()}_URL"] = url
        return env

    # --- test controls: accounts -----------------------------------------------------------

    def add_account(self, account_id: str, name: str, **extra: Any) -> Account:
        account = Account(account_id=account_id, name=name, extra=dict(extra))
        self.accounts[account_id] = account
        return account

    def login_as(self, account_id: str) -> None:
        """Who is signed in at the browser for the following authorize visits (it stays until
        changed). Without it, the only account (if exactly one) is used."""
        self._require_account(account_id)
        self._logged_in = account_id

    def deny_next(self, error: str = "access_denied") -> None:
        """The next authorize visit is refused by the person (redirect with ``error``)."""
        self._deny_next = error

    # --- test controls: time ---------------------------------------------------------------

    def freeze(self, at: datetime | None = None) -> datetime:
        """Stop the clock (at ``at``, default the current time)."""
        frozen = at or self.now()
        self.now = lambda: frozen
        return frozen

    def advance(self, delta: timedelta) -> datetime:
        """Freeze the clock ``delta`` after the current time."""
        return self.freeze(self.now() + delta)

    # --- test controls: failures -----------------------------------------------------------

    @property
    def failure_keys(self) -> set[str]:
        return set(self.URL_PATHS) | {"authorize", "refresh"}

    def fail(
        self,
        key: str,
        status: int = 503,
        times: int = 1,
        body: Any = None,
        retry_after: float | str | datetime | None = None,
    ) -> None:
        """The next ``times`` requests to ``key`` get ``status`` (with ``Retry-After`` when
        given) and ``body`` (JSON for a dict or list, else text; default a plain error JSON)."""
        self._check_key(key)
        self._failures.setdefault(key, []).append(_Failure(status, times, body, retry_after))

    def hang(self, key: str, seconds: float) -> None:
        """The next request to ``key`` waits ``seconds`` (or until stop()) before answering."""
        self._check_key(key)
        self._hangs[key] = seconds

    def slow(self, key: str, seconds: float) -> None:
        """Every request to ``key`` from now on takes ``seconds`` before it is answered."""
        self._check_key(key)
        self._latency[key] = seconds

    def hold(self, key: str) -> None:
        """Every request to ``key`` from now on waits until :meth:`let_go` (or stop())."""
        self._check_key(key)
        self._holds.setdefault(key, asyncio.Event())

    def let_go(self, key: str | None = None) -> None:
        """Answer the held requests (of ``key``, default all) and hold no more."""
        for held in [key] if key else list(self._holds):
            event = self._holds.pop(held, None)
            if event is not None:
                event.set()

    async def wait_for_held(
        self,
        key: str,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109 - part of the helper's contract
    ) -> None:
        """Wait until at least ``count`` requests to ``key`` are held."""
        try:
            async with asyncio.timeout(timeout), self._held_changed:
                await self._held_changed.wait_for(lambda: self.held[key] >= count)
        except TimeoutError:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {count} held {key} request(s); "
                f"{self.held[key]} held"
            ) from None

    def _check_key(self, key: str) -> None:
        if key not in self.failure_keys:
            raise KeyError(f"{self.name} has no {key!r}; keys: {sorted(self.failure_keys)}")

    # --- test controls: tokens -------------------------------------------------------------

    def issue_tokens(
        self,
        account_id: str,
        *,
        lifetime: timedelta | None = None,
        refresh: bool = True,
        scope: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Live tokens without a browser, as a finished connection would hold them:
        ``{"access_token", "refresh_token" (networks that have them, when refresh),
        "expires_at"}``. ``lifetime`` overrides the access token's (negative: already expired).
        Facebook and Instagram get long-lived tokens."""
        self._require_account(account_id)
        scopes = tuple(scope) if scope is not None else self.DEFAULT_SCOPES
        now = self.now()
        access = self._mint(
            "access",
            account_id,
            scopes,
            lifetime if lifetime is not None else self._direct_lifetime(),
            consented_at=now,
            long_lived=True,
        )
        result: dict[str, Any] = {"access_token": access.value, "expires_at": access.expires_at}
        if refresh and self.HAS_REFRESH_TOKENS:
            token = self._mint_refresh(account_id, scopes, consented_at=now, family=None)
            result["refresh_token"] = token.value
            self._consented(account_id)
        return result

    def revoke(self, account_id: str, subcode: int | None = None) -> None:
        """Kill every access, refresh and page token of an account (as if the person removed
        the app). ``subcode`` is the Graph error subcode Facebook/Instagram will answer with
        (default 460, password changed)."""
        for token in self._tokens.values():
            if token.account_id == account_id:
                token.revoked = True
                token.subcode = subcode if subcode is not None else self.DEFAULT_REVOKE_SUBCODE
        self._forget_consent(account_id)

    def revoke_token(self, value: str, subcode: int | None = None) -> None:
        token = self._tokens[value]
        token.revoked = True
        token.subcode = subcode if subcode is not None else self.DEFAULT_REVOKE_SUBCODE

    def issued_access_tokens(self, account_id: str) -> list[str]:
        """Every access token issued to an account, oldest first (page tokens excluded)."""
        return [
            t.value
            for t in self._tokens.values()
            if t.account_id == account_id and t.kind == "access"
        ]

    def issued_refresh_tokens(self, account_id: str) -> list[str]:
        return [
            t.value
            for t in self._tokens.values()
            if t.account_id == account_id and t.kind == "refresh"
        ]

    def token_is_live(self, value: str) -> bool:
        token = self._tokens.get(value)
        return token is not None and self._is_live(token)

    def token(self, value: str) -> Token:
        return self._tokens[value]

    def refresh_uses(self, value: str) -> int:
        """How many renewal requests presented this token, refused ones included (requests
        answered by an injected ``fail`` never reach the grant and are not counted)."""
        return self._presented[value]

    # --- internals: accounts, tokens -------------------------------------------------------

    def _require_account(self, account_id: str) -> Account:
        if account_id not in self.accounts:
            raise KeyError(f"no account {account_id!r}; call add_account first")
        return self.accounts[account_id]

    def _browser_account(self) -> str | None:
        if self._logged_in is not None:
            return self._logged_in
        if len(self.accounts) == 1:
            return next(iter(self.accounts))
        return None

    def _direct_lifetime(self) -> timedelta | None:
        return self.access_lifetime

    def _consented(self, account_id: str) -> None:
        """Hook: an account now holds a refresh token (YouTube remembers this)."""

    def _forget_consent(self, account_id: str) -> None:
        """Hook: an account's grant was revoked."""

    def _is_live(self, token: Token) -> bool:
        if token.revoked or token.spent:
            return False
        return token.expires_at is None or self.now() < token.expires_at

    def _mint(
        self,
        kind: str,
        account_id: str,
        scope: tuple[str, ...],
        lifetime: timedelta | None,
        *,
        consented_at: datetime | None = None,
        long_lived: bool = False,
        page_id: str | None = None,
        family: str | None = None,
        from_consent: bool = False,
    ) -> Token:
        now = self.now()
        consented = consented_at or now
        expires_at = None
        if lifetime is not None:
            expires_at = (consented if from_consent else now) + lifetime
        prefix = {
            "access": self.ACCESS_PREFIX,
            "refresh": self.REFRESH_PREFIX,
            "page": self.PAGE_PREFIX,
        }[kind]
        token = Token(
            value=prefix + secrets.token_urlsafe(32),
            kind=kind,
            account_id=account_id,
            scope=scope,
            issued_at=now,
            expires_at=expires_at,
            consented_at=consented,
            long_lived=long_lived,
            page_id=page_id,
            family=family or secrets.token_hex(8),
        )
        self._tokens[token.value] = token
        return token

    def _mint_refresh(
        self,
        account_id: str,
        scope: tuple[str, ...],
        *,
        consented_at: datetime,
        family: str | None,
    ) -> Token:
        return self._mint(
            "refresh",
            account_id,
            scope,
            self.refresh_lifetime,
            consented_at=consented_at,
            family=family,
            from_consent=self.REFRESH_LIFETIME_FROM_CONSENT,
        )

    def _seconds_left(self, token: Token) -> int:
        if token.expires_at is None:
            return 0
        return max(0, int((token.expires_at - self.now()).total_seconds()))

    def _scope_text(self, scope: tuple[str, ...]) -> str:
        return self.SCOPE_SEPARATOR.join(scope)

    # --- internals: request plumbing -------------------------------------------------------

    async def _begin(
        self,
        key: str,
        request: web.Request,
        params: Mapping[str, str],
        failure_keys: tuple[str, ...] | None = None,
    ) -> web.StreamResponse | None:
        """Record the request, then apply any hang and injected failure."""
        recorded = RecordedRequest(
            key=key,
            method=request.method,
            path=request.path,
            params=dict(params),
            authorization=request.headers.get("Authorization"),
        )
        self.requests.append(recorded)
        keys = failure_keys or (key,)
        for candidate in keys:
            if candidate in self._latency:
                await asyncio.sleep(self._latency[candidate])
                break
        for candidate in keys:
            if candidate in self._holds:
                gone = await self._held(candidate, request, recorded)
                if gone is not None:
                    return gone
                break
        for candidate in keys:
            if candidate in self._hangs:
                await self._wait(self._hangs.pop(candidate))
                break
        for candidate in keys:
            failure = _take(self._failures.get(candidate))
            if failure is not None:
                return _failure_response(failure)
        return None

    async def _held(
        self, key: str, request: web.Request, recorded: RecordedRequest
    ) -> web.StreamResponse | None:
        """Wait while ``key`` is held; a response that ends the request when its client has
        gone meanwhile (nothing is processed), else None."""
        event = self._holds[key]
        release = self._release
        await self._count_held(key, +1)
        try:
            waits = [asyncio.ensure_future(event.wait())]
            if release is not None:
                waits.append(asyncio.ensure_future(release.wait()))
            _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for waiting in pending:
                waiting.cancel()
        finally:
            await self._count_held(key, -1)
        if request.transport is None or request.transport.is_closing():
            self.dropped.append(recorded)
            return web.Response(status=499)
        return None

    async def _count_held(self, key: str, change: int) -> None:
        async with self._held_changed:
            self.held[key] += change
            self._held_changed.notify_all()

    async def _wait(self, seconds: float) -> None:
        if self._release is None:
            return
        try:
            async with asyncio.timeout(seconds):
                await self._release.wait()
        except TimeoutError:
            pass

    async def _params(self, request: web.Request) -> dict[str, str]:
        if request.method == "POST":
            form = await request.post()
            return {k: v for k, v in form.items() if isinstance(v, str)}
        return dict(request.query)

    def _bearer_token(self, request: web.Request) -> str | None:
        return _bearer(request)

    def _lookup_access(self, value: str | None) -> tuple[Token | None, bool]:
        """(token record, live?) for an access or page token."""
        if not value:
            return None, False
        token = self._tokens.get(value)
        if token is None or token.kind == "refresh":
            return None, False
        return token, self._is_live(token)

    def _json(self, body: Any, status: int = 200) -> web.Response:
        return web.json_response(body, status=status, headers=_NO_STORE)

    # --- authorize -------------------------------------------------------------------------

    async def _handle_authorize(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        self.authorize_requests.append(query)
        early = await self._begin("authorize", request, query)
        if early is not None:
            return early
        client_id = query.get(self.CLIENT_ID_PARAM)
        redirect_uri = query.get("redirect_uri")
        if client_id != self.client_id:
            return _page(400, f"Invalid or missing {self.CLIENT_ID_PARAM}")
        if not redirect_uri:
            return _page(400, "The redirect_uri is missing")
        if self.redirect_uris is not None and redirect_uri not in self.redirect_uris:
            return _page(400, "The redirect_uri does not match the registered value")
        response_type = query.get("response_type")
        if response_type is None and self.RESPONSE_TYPE_OPTIONAL:
            response_type = "code"
        if response_type != "code":
            return _page(400, "The response_type must be code")
        state = query.get("state")
        if not state:
            return _page(400, "The state parameter is missing")
        scope = _split_scope(query.get("scope", ""))
        if not scope and self.SCOPE_REQUIRED:
            return _page(400, "The scope parameter is missing")
        challenge = query.get("code_challenge")
        method = query.get("code_challenge_method")
        if challenge is None and self.PKCE_REQUIRED:
            return _page(400, "code_challenge is required")
        if challenge is not None:
            method = method or "plain"
            if method not in ("S256", "plain"):
                return _page(400, "Unsupported code_challenge_method")
        if self._deny_next is not None:
            error, self._deny_next = self._deny_next, None
            return _redirect(redirect_uri, {**self._denied_params(error), "state": state})
        account_id = self._browser_account()
        if account_id is None:
            return _page(400, "Nobody is signed in at the browser (call login_as)")
        if not scope:
            scope = self.DEFAULT_SCOPES
        code = _Code(
            value=secrets.token_urlsafe(24),
            client_id=client_id,
            redirect_uri=redirect_uri,
            account_id=account_id,
            scope=scope,
            challenge=challenge,
            method=method if challenge is not None else None,
            expires_at=self.now() + self.CODE_LIFETIME,
            offline=self._offline(query, scope, account_id),
        )
        self._codes[code.value] = code
        params = {"code": code.value, **self._redirect_extras(code), "state": state}
        return _redirect(redirect_uri, params, fragment=self._redirect_fragment())

    def _denied_params(self, error: str) -> dict[str, str]:
        return {"error": error, "error_description": "The user denied the request"}

    def _offline(self, query: dict[str, str], scope: tuple[str, ...], account_id: str) -> bool:
        """Whether exchanging this code yields a refresh token."""
        return self.HAS_REFRESH_TOKENS

    def _redirect_extras(self, code: _Code) -> dict[str, str]:
        return {}

    def _redirect_fragment(self) -> str:
        return ""

    # --- token endpoint --------------------------------------------------------------------

    def _grant_failure_key(self, grant: str | None) -> str | None:
        return "refresh" if grant == "refresh_token" else None

    async def _handle_token(self, request: web.Request) -> web.StreamResponse:
        params = await self._params(request)
        self.token_requests.append(dict(params))
        grant = self._grant_type(params)
        special = self._grant_failure_key(grant)
        keys = (special, "token") if special else ("token",)
        early = await self._begin("token", request, params, keys)
        if early is not None:
            return early
        client = self._client_credentials(request, params)
        if isinstance(client, web.StreamResponse):
            return client
        if grant == "authorization_code":
            return self._code_grant(params, client)
        if grant == "refresh_token" and self.HAS_REFRESH_TOKENS:
            return self._refresh_grant(params)
        other = self._other_grant(grant, params)
        if other is not None:
            return other
        if not grant:
            return self._err_missing("grant_type")
        return self._err_unsupported_grant(grant)

    def _grant_type(self, params: dict[str, str]) -> str | None:
        return params.get("grant_type")

    def _other_grant(self, grant: str | None, params: dict[str, str]) -> web.StreamResponse | None:
        return None

    def _client_credentials(
        self, request: web.Request, params: dict[str, str]
    ) -> str | web.StreamResponse:
        """The authenticated client id, or the network's refusal."""
        basic = _basic_credentials(request)
        if self.CLIENT_AUTH == "basic":
            if basic is None:
                return self._err_client(missing=True)
            client_id, secret = basic
        elif self.CLIENT_AUTH == "basic_or_post" and basic is not None:
            client_id, secret = basic
        else:
            client_id = params.get(self.CLIENT_ID_PARAM)
            secret = params.get("client_secret")
        if client_id is None or secret is None:
            return self._err_client(missing=True)
        if client_id != self.client_id or not hmac.compare_digest(
            secret.encode(), self.client_secret.encode()
        ):
            return self._err_client(missing=False, unknown_client=client_id != self.client_id)
        return client_id

    def _code_grant(self, params: dict[str, str], client_id: str) -> web.StreamResponse:
        value = params.get("code")
        if not value:
            return self._err_missing("code")
        code = self._codes.get(value)
        if code is None:
            return self._err_code("unknown")
        if code.used:
            # RFC 6749 section 4.1.2: a reused code is refused and what it produced is revoked.
            for token in code.issued:
                self._tokens[token].revoked = True
            return self._err_code("used")
        code.used = True
        if code.client_id != client_id or params.get("redirect_uri") != code.redirect_uri:
            return self._err_code("redirect")
        if self.now() >= code.expires_at:
            return self._err_code("expired")
        if not _pkce_ok(code, params.get("code_verifier")):
            return self._err_code("pkce")
        now = self.now()
        family = secrets.token_hex(8)
        access = self._mint(
            "access", code.account_id, code.scope, self.access_lifetime, family=family
        )
        code.issued.append(access.value)
        refresh = None
        if code.offline:
            refresh = self._mint_refresh(
                code.account_id, code.scope, consented_at=now, family=family
            )
            code.issued.append(refresh.value)
            self._consented(code.account_id)
        return self._json(self._token_body(access, refresh, "authorization_code", params))

    def _refresh_grant(self, params: dict[str, str]) -> web.StreamResponse:
        value = params.get("refresh_token")
        if not value:
            return self._err_missing("refresh_token")
        self._presented[value] += 1
        old = self._tokens.get(value)
        if old is None or old.kind != "refresh":
            return self._err_dead_refresh()
        if not self._is_live(old):
            if old.spent and self.reuse_revokes_family:
                for token in self._tokens.values():
                    if token.family == old.family:
                        token.revoked = True
            return self._err_dead_refresh()
        access = self._mint(
            "access", old.account_id, old.scope, self.access_lifetime, family=old.family
        )
        refresh = None
        if self._rotates(params):
            old.spent = True
            refresh = self._mint_refresh(
                old.account_id, old.scope, consented_at=old.consented_at, family=old.family
            )
        return self._json(self._token_body(access, refresh, "refresh_token", params))

    def _rotates(self, params: dict[str, str]) -> bool:
        """Whether a refresh returns a new refresh token (and spends the old one)."""
        return True

    def _token_body(
        self, access: Token, refresh: Token | None, grant: str, params: dict[str, str]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": access.value,
            "token_type": "Bearer",
            "expires_in": self._seconds_left(access),
            "scope": self._scope_text(access.scope),
        }
        if refresh is not None:
            body["refresh_token"] = refresh.value
        return body

    # --- token endpoint errors (RFC 6749 shapes; networks override) -------------------------

    def _oauth_error(self, status: int, error: str, description: str) -> web.Response:
        headers = dict(_NO_STORE)
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="oauth"'
        return web.json_response(
            {"error": error, "error_description": description}, status=status, headers=headers
        )

    def _err_client(self, *, missing: bool, unknown_client: bool = False) -> web.Response:
        return self._oauth_error(401, "invalid_client", "Client authentication failed")

    def _err_missing(self, param: str) -> web.Response:
        return self._oauth_error(400, "invalid_request", f"A required parameter {param} is missing")

    def _err_unsupported_grant(self, grant: str) -> web.Response:
        return self._oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type {grant}")

    def _err_code(self, reason: str) -> web.Response:
        """reason: unknown, used, redirect (client or redirect_uri mismatch), expired, pkce."""
        return self._oauth_error(400, "invalid_grant", f"Authorization code {reason}")

    def _err_dead_refresh(self) -> web.Response:
        return self._oauth_error(400, "invalid_grant", "Token has been expired or revoked.")


# --- LinkedIn -------------------------------------------------------------------------------

LINKEDIN_INVALID_TOKEN = {
    "message": "Invalid access token",
    "serviceErrorCode": 65600,
    "status": 401,
}
LINKEDIN_EMPTY_TOKEN = {
    "message": "Empty oauth2_access_token",
    "serviceErrorCode": 401,
    "status": 401,
}
LINKEDIN_ORG_SCOPES = ("rw_organization_admin", "r_organization_admin")


class FakeLinkedIn(FakeNetwork):
    """LinkedIn (same semantics as ``fakes.oauth_provider.FakeOAuthProvider``).

    * authorize ``/oauth/v2/authorization``; token ``POST /oauth/v2/accessToken`` with
      client_id/client_secret in the form body only (docs); PKCE only checked if sent.
    * access tokens 60 days, ``{access_token, expires_in: 5184000, scope}`` with scopes
      comma-joined (docs sample). Refresh tokens only when ``issue_refresh_tokens`` (approved
      partner apps, docs): 365 days from the first consent, not reset by refreshing
      (``refresh_token_expires_in`` counts down, docs); a refresh returns a new refresh token and
      spends the old (unconfirmed; NETWORKS.md says keep whatever comes back).
    * ``GET /v2/userinfo`` (OIDC, docs): ``{sub, name, given_name, family_name, picture,
      locale}`` (+ email with the ``email`` scope). Dead token: 401
      ``{"message":"Invalid access token","serviceErrorCode":65600,"status":401}`` (docs/3P).
    * ``GET /v2/organizationalEntityAcls?q=roleAssignee&role=..&state=..`` (docs): elements
      ``{organizationalTarget, role, state, roleAssignee}``, paging ``start``/``count`` (default
      10). Names are not in the elements: LinkedIn only adds them with a projection
      (``projection=(elements*(*,organizationalTarget~(localizedName)))`` gives
      ``"organizationalTarget~": {"localizedName": ...}``), or from ``GET
      /v2/organizations/{id}`` (also served). Without ``rw_organization_admin`` (or
      ``r_organization_admin``) in the token's scope: 403 ``ACCESS_DENIED`` (docs: the scope is
      required; the body's wording is a guess).
    * Denied authorize: ``error=access_denied`` by default; LinkedIn really sends
      ``user_cancelled_login`` or ``user_cancelled_authorize`` (docs): use
      ``deny_next("user_cancelled_authorize")``.
    """

    name = "linkedin"
    URL_PATHS = {
        "authorize": "/oauth/v2/authorization",
        "token": "/oauth/v2/accessToken",
        "userinfo": "/v2/userinfo",
        "organizations": (
            "/v2/organizationalEntityAcls?q=roleAssignee&role=ADMINISTRATOR&state=APPROVED"
        ),
    }
    DEFAULT_SCOPES = ("openid", "profile", "rw_organization_admin")
    ACCESS_LIFETIME = timedelta(seconds=5184000)
    REFRESH_LIFETIME = timedelta(days=365)
    REFRESH_LIFETIME_FROM_CONSENT = True
    ACCESS_PREFIX = "AQ"
    REFRESH_PREFIX = "AQ"

    def __init__(self, *, issue_refresh_tokens: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.issue_refresh_tokens = issue_refresh_tokens
        # account id -> {org id: (name, role, state)}
        self.organizations: dict[str, dict[str, tuple[str, str, str]]] = {}

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/oauth/v2/authorization", self._handle_authorize),
            ("POST", "/oauth/v2/accessToken", self._handle_token),
            ("GET", "/v2/userinfo", self._handle_userinfo),
            ("GET", "/v2/organizationalEntityAcls", self._handle_acls),
            ("GET", "/v2/organizations/{org_id}", self._handle_organization),
        ]

    def add_account(self, account_id: str, name: str, **extra: Any) -> Account:
        given, _, family = name.partition(" ")
        extra.setdefault("given_name", given)
        extra.setdefault("family_name", family)
        extra.setdefault("picture", f"https://media.licdn.example/{account_id}.jpg")
        return super().add_account(account_id, name, **extra)

    def add_organization(
        self,
        account_id: str,
        org_id: str,
        name: str,
        *,
        role: str = "ADMINISTRATOR",
        state: str = "APPROVED",
    ) -> None:
        """The member holds ``role`` (default ADMINISTRATOR, APPROVED) on the organization."""
        self._require_account(account_id)
        self.organizations.setdefault(account_id, {})[org_id] = (name, role, state)

    def _offline(self, query: dict[str, str], scope: tuple[str, ...], account_id: str) -> bool:
        return self.issue_refresh_tokens

    def _token_body(
        self, access: Token, refresh: Token | None, grant: str, params: dict[str, str]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": access.value,
            "expires_in": self._seconds_left(access),
            "scope": ",".join(access.scope),
        }
        if refresh is not None:
            body["refresh_token"] = refresh.value
            body["refresh_token_expires_in"] = self._seconds_left(refresh)
        return body

    def _err_code(self, reason: str) -> web.Response:
        if reason == "unknown":
            text = "Unable to retrieve access token: authorization code not found"
        elif reason == "used":
            text = "Unable to retrieve access token: authorization code used"
        else:
            text = (
                "Unable to retrieve access token: appid/redirect uri/code verifier does not "
                "match authorization code. Or authorization code expired."
            )
        return self._oauth_error(400, "invalid_grant", text)

    async def _authenticated(self, request: web.Request, key: str) -> Token | web.StreamResponse:
        early = await self._begin(key, request, dict(request.query))
        if early is not None:
            return early
        value = self._bearer_token(request)
        if not value:
            return web.json_response(LINKEDIN_EMPTY_TOKEN, status=401)
        token, live = self._lookup_access(value)
        if token is None or not live:
            return web.json_response(LINKEDIN_INVALID_TOKEN, status=401)
        return token

    async def _handle_userinfo(self, request: web.Request) -> web.StreamResponse:
        token = await self._authenticated(request, "userinfo")
        if not isinstance(token, Token):
            return token
        account = self.accounts[token.account_id]
        body: dict[str, Any] = {
            "sub": account.account_id,
            "name": account.name,
            "given_name": account.extra["given_name"],
            "family_name": account.extra["family_name"],
            "picture": account.extra["picture"],
            "locale": {"country": "US", "language": "en"},
        }
        if account.extra.get("email") and "email" in token.scope:
            body["email"] = account.extra["email"]
            body["email_verified"] = True
        return web.json_response(body)

    async def _handle_acls(self, request: web.Request) -> web.StreamResponse:
        token = await self._authenticated(request, "organizations")
        if not isinstance(token, Token):
            return token
        if not any(s in token.scope for s in LINKEDIN_ORG_SCOPES):
            return web.json_response(
                {
                    "serviceErrorCode": 100,
                    "code": "ACCESS_DENIED",
                    "message": "Not enough permissions to access: "
                    "organizationalEntityAcls.FINDER-roleAssignee.20240101",
                    "status": 403,
                },
                status=403,
            )
        query = request.query
        if query.get("q") != "roleAssignee":
            return web.json_response(
                {"message": "Invalid query parameters passed to request", "status": 400},
                status=400,
            )
        role = query.get("role")
        state = query.get("state")
        rows = [
            (org_id, name, org_role, org_state)
            for org_id, (name, org_role, org_state) in self.organizations.get(
                token.account_id, {}
            ).items()
            if (role is None or org_role == role) and (state is None or org_state == state)
        ]
        start = _int(query.get("start"), 0)
        count = _int(query.get("count"), 10)
        decorate = "organizationalTarget~" in query.get("projection", "")
        elements = []
        for org_id, name, org_role, org_state in rows[start : start + count]:
            element: dict[str, Any] = {
                "organizationalTarget": f"urn:li:organization:{org_id}",
                "role": org_role,
                "state": org_state,
                "roleAssignee": f"urn:li:person:{token.account_id}",
            }
            if decorate:
                element["organizationalTarget~"] = {"localizedName": name, "id": _maybe_int(org_id)}
            elements.append(element)
        links = []
        if start + count < len(rows):
            next_query = {**query, "start": str(start + count), "count": str(count)}
            links.append(
                {
                    "rel": "next",
                    "type": "application/json",
                    "href": f"{request.path}?{urlencode(next_query)}",
                }
            )
        paging = {"count": count, "start": start, "total": len(rows), "links": links}
        return web.json_response({"paging": paging, "elements": elements})

    async def _handle_organization(self, request: web.Request) -> web.StreamResponse:
        token = await self._authenticated(request, "organization")
        if not isinstance(token, Token):
            return token
        org_id = request.match_info["org_id"]
        for orgs in self.organizations.values():
            if org_id in orgs:
                name = orgs[org_id][0]
                vanity = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
                return web.json_response(
                    {"id": _maybe_int(org_id), "localizedName": name, "vanityName": vanity}
                )
        return web.json_response(
            {"message": f"Organization {org_id} not found", "status": 404}, status=404
        )


# --- X --------------------------------------------------------------------------------------

X_UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "about:blank",
    "status": 401,
    "detail": "Unauthorized",
}
X_BAD_TOKEN = "Value passed for the token was invalid."
X_BAD_CODE = "Value passed for the authorization code was invalid."


class FakeX(FakeNetwork):
    """X (Twitter) OAuth 2.0 with PKCE.

    * authorize ``/i/oauth2/authorize``: ``code_challenge`` required (S256 or plain, docs).
    * token ``POST /2/oauth2/token``: confidential client = HTTP Basic (docs); without it 401
      ``{"error":"unauthorized_client","error_description":"Missing valid authorization
      header"}`` (3P issue threads).
    * ``{token_type:"bearer", expires_in: 7200, access_token, scope}`` + ``refresh_token`` only
      when the scope had ``offline.access`` (docs).
    * refresh rotates: the new response has a new refresh token; the old one is refused with 400
      ``{"error":"invalid_request","error_description":"Value passed for the token was
      invalid."}`` (single use: 3P; wording: 3P). ``reuse_revokes_family = True`` also kills the
      newer tokens when a spent one is replayed (3P claim, unconfirmed).
    * bad code: 400 invalid_request "Value passed for the authorization code was invalid." (3P).
    * ``GET /2/users/me``: ``{"data": {"id", "name", "username"}}`` (docs); dead token 401
      ``{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}``
      (3P issue threads quoting the API).
    """

    name = "x"
    URL_PATHS = {
        "authorize": "/i/oauth2/authorize",
        "token": "/2/oauth2/token",
        "userinfo": "/2/users/me",
    }
    CLIENT_AUTH = "basic"
    PKCE_REQUIRED = True
    DEFAULT_SCOPES = ("tweet.read", "users.read", "offline.access")
    ACCESS_LIFETIME = timedelta(hours=2)
    REFRESH_LIFETIME = None

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/i/oauth2/authorize", self._handle_authorize),
            ("POST", "/2/oauth2/token", self._handle_token),
            ("GET", "/2/users/me", self._handle_me),
        ]

    def add_account(self, account_id: str, name: str, **extra: Any) -> Account:
        extra.setdefault("username", re.sub(r"\W+", "", name) or account_id)
        return super().add_account(account_id, name, **extra)

    def _offline(self, query: dict[str, str], scope: tuple[str, ...], account_id: str) -> bool:
        return "offline.access" in scope

    def _token_body(
        self, access: Token, refresh: Token | None, grant: str, params: dict[str, str]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "token_type": "bearer",
            "expires_in": self._seconds_left(access),
            "access_token": access.value,
            "scope": " ".join(access.scope),
        }
        if refresh is not None:
            body["refresh_token"] = refresh.value
        return body

    def _err_client(self, *, missing: bool, unknown_client: bool = False) -> web.Response:
        if missing:
            return self._oauth_error(
                401, "unauthorized_client", "Missing valid authorization header"
            )
        return self._oauth_error(401, "invalid_client", "Client authentication failed")

    def _err_code(self, reason: str) -> web.Response:
        return self._oauth_error(400, "invalid_request", X_BAD_CODE)

    def _err_dead_refresh(self) -> web.Response:
        return self._oauth_error(400, "invalid_request", X_BAD_TOKEN)

    async def _handle_me(self, request: web.Request) -> web.StreamResponse:
        early = await self._begin("userinfo", request, dict(request.query))
        if early is not None:
            return early
        token, live = self._lookup_access(self._bearer_token(request))
        if token is None or not live:
            return web.json_response(X_UNAUTHORIZED, status=401)
        account = self.accounts[token.account_id]
        data = {
            "id": account.account_id,
            "name": account.name,
            "username": account.extra["username"],
        }
        return web.json_response({"data": data})


# --- Facebook / Instagram (Graph) -----------------------------------------------------------

GRAPH_MESSAGES = {
    458: "Error validating access token: The user has not authorized application {app}.",
    459: "Error validating access token: You cannot access the app till you log in to "
    "www.facebook.com and follow the instructions given.",
    460: "Error validating access token: The session has been invalidated because the user "
    "changed their password or Facebook has changed the session for security reasons.",
    464: "Error validating access token: Sessions for the user are not allowed because the "
    "user is not a confirmed user.",
    467: "Error validating access token: The session is invalid because the user logged out.",
}
GRAPH_UNPARSEABLE = "Invalid OAuth access token - Cannot parse access token"


def _graph_error(
    message: str,
    code: int,
    subcode: int | None = None,
    *,
    status: int = 400,
    type_: str = "OAuthException",
) -> web.Response:
    error: dict[str, Any] = {"message": message, "type": type_, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)
    headers = {}
    if code == 190:
        headers["WWW-Authenticate"] = f'OAuth "Facebook Platform" "invalid_token" "{message}"'
    return web.json_response({"error": error}, status=status, headers=headers)


def _graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")


class _GraphNetwork(FakeNetwork):
    """Shared by Facebook and Instagram: Graph errors and token lookup."""

    HAS_REFRESH_TOKENS = False
    SCOPE_SEPARATOR = ","
    DEFAULT_REVOKE_SUBCODE = 460
    LONG_LIVED_LIFETIME: ClassVar[timedelta] = timedelta(days=60)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.long_lived_lifetime: timedelta = self.LONG_LIVED_LIFETIME

    def _direct_lifetime(self) -> timedelta | None:
        return self.long_lived_lifetime

    def _graph_token_value(self, request: web.Request) -> str | None:
        return request.query.get("access_token") or self._bearer_token(request)

    def _long_lived_answer(self, token: Token) -> web.Response:
        new = self._mint(
            "access",
            token.account_id,
            token.scope,
            self.long_lived_lifetime,
            consented_at=token.consented_at,
            long_lived=True,
        )
        return self._json(
            {
                "access_token": new.value,
                "token_type": "bearer",
                "expires_in": self._seconds_left(new),
            }
        )

    def _graph_dead(self, token: Token | None) -> web.Response:
        """Graph's answer for a token that is not live: code 190 with the reason's subcode."""
        if token is None:
            return _graph_error(GRAPH_UNPARSEABLE, 190)
        if token.revoked:
            subcode = token.subcode or self.DEFAULT_REVOKE_SUBCODE or 460
            if subcode == 463:
                return self._graph_expired(token)
            template = GRAPH_MESSAGES.get(subcode, GRAPH_MESSAGES[460])
            return _graph_error(template.format(app=self.client_id), 190, subcode)
        return self._graph_expired(token)

    def _graph_expired(self, token: Token) -> web.Response:
        expired = token.expires_at or self.now()
        message = (
            f"Error validating access token: Session has expired on {_graph_time(expired)}. "
            f"The current time is {_graph_time(self.now())}."
        )
        return _graph_error(message, 190, 463)

    async def _graph_authenticated(
        self, request: web.Request, key: str
    ) -> Token | web.StreamResponse:
        early = await self._begin(key, request, dict(request.query))
        if early is not None:
            return early
        value = self._graph_token_value(request)
        if not value:
            return _graph_error(
                "An active access token must be used to query information about the current user.",
                2500,
            )
        token, live = self._lookup_access(value)
        if token is None or not live:
            return self._graph_dead(token)
        return token


FACEBOOK_LONG_LIVED_EXPIRES_IN = 5183944  # the docs' sample answer, about 60 days


class FakeFacebook(_GraphNetwork):
    """Facebook Login + Graph API (v23.0 paths; any ``vNN.N`` is accepted).

    * authorize ``/v23.0/dialog/oauth`` (``response_type`` optional, code by default: docs);
      denied: ``error=access_denied&error_code=200&error_description=Permissions+error
      &error_reason=user_denied`` (docs).
    * token ``GET /v23.0/oauth/access_token`` with client_id, client_secret, redirect_uri, code
      in the query (docs). Answer ``{access_token, token_type:"bearer", expires_in: 3600}``: a
      short-lived user token (NETWORKS.md; the expiry is a guess, docs say "hours").
    * ``grant_type=fb_exchange_token&fb_exchange_token=T`` (same URL, client_id+secret): a live
      token gives a new long-lived token ``{access_token, token_type:"bearer", expires_in:
      5183944}`` (docs sample); a dead one 400 Graph 190 (expired: subcode 463, "Session has
      expired on ..." message: docs + 3P); the old token stays valid until its own expiry.
      ``refresh_uses(T)`` counts exchanges of T. There are no refresh tokens.
    * ``GET /v23.0/me?fields=id,name``: ``{"id", "name"}`` (``id`` always included, unknown
      field: error 100). A page token is also accepted and answers with the page's id/name.
    * ``GET /v23.0/me/accounts?fields=id,name,access_token`` (docs): ``{"data":[{"id","name",
      "access_token"}], "paging":{"cursors":{"before","after"}, "next"?}}``; ``limit`` (default
      25) and ``after`` page through. Page tokens from a long-lived user token never expire
      (docs); from a short-lived one they expire with it. They die with ``revoke``.
    * dead token anywhere: 400 ``{"error":{"message","type":"OAuthException","code":190,
      "error_subcode","fbtrace_id"}}``; subcode from ``revoke(account, subcode=...)`` (458 app
      removed, 459 checkpoint, 460 password changed (default), 464 unconfirmed, 467 logged
      out), 463 for expiry, none for an unknown token (docs: error handling guide; messages 3P).
    * code errors: code 100 with subcodes 36007 expired / 36008 redirect_uri mismatch / 36009
      used (from memory of real answers, unconfirmed); bad secret: code 1 "Error validating
      client secret." (unconfirmed).
    """

    name = "facebook"
    URL_PATHS = {
        "authorize": f"/{GRAPH_VERSION}/dialog/oauth",
        "token": f"/{GRAPH_VERSION}/oauth/access_token",
        "userinfo": f"/{GRAPH_VERSION}/me?fields=id,name",
        "accounts": f"/{GRAPH_VERSION}/me/accounts?fields=id,name,access_token",
    }
    CLIENT_AUTH = "query"
    SCOPE_REQUIRED = False
    RESPONSE_TYPE_OPTIONAL = True
    DEFAULT_SCOPES = ("public_profile", "pages_show_list")
    ACCESS_LIFETIME = timedelta(hours=1)
    LONG_LIVED_LIFETIME = timedelta(seconds=FACEBOOK_LONG_LIVED_EXPIRES_IN)
    ACCESS_PREFIX = "EAAB"
    PAGE_PREFIX = "EAAP"
    PAGE_FIELDS: ClassVar[tuple[str, ...]] = ("access_token", "category", "name", "id", "tasks")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # account id -> {page id: name}
        self.pages: dict[str, dict[str, str]] = {}
        self._page_token_of: dict[tuple[str, str], str] = {}

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", f"/{_VERSION}/dialog/oauth", self._handle_authorize),
            ("GET", f"/{_VERSION}/oauth/access_token", self._handle_token),
            ("GET", f"/{_VERSION}/me", self._handle_me),
            ("GET", "/me", self._handle_me),
            ("GET", f"/{_VERSION}/{{node}}/accounts", self._handle_accounts),
            ("GET", "/{node}/accounts", self._handle_accounts),
        ]

    @property
    def failure_keys(self) -> set[str]:
        return super().failure_keys | {"exchange"}

    def add_page(self, account_id: str, page_id: str, name: str) -> None:
        """The person manages the page (it shows in /me/accounts with a page token)."""
        self._require_account(account_id)
        self.pages.setdefault(account_id, {})[page_id] = name

    def page_tokens(self, account_id: str, user_token: str | None = None) -> dict[str, str]:
        """Page tokens for every page of the account, as /me/accounts would give them for
        ``user_token`` (default: a long-lived user token, so they never expire)."""
        if user_token is None:
            user_token = self.issue_tokens(account_id)["access_token"]
        user = self._tokens[user_token]
        return {
            page_id: self._page_token(user, page_id) for page_id in self.pages.get(account_id, {})
        }

    def issue_tokens(self, account_id: str, **kwargs: Any) -> dict[str, Any]:
        result = super().issue_tokens(account_id, **kwargs)
        user = self._tokens[result["access_token"]]
        result["page_tokens"] = {
            page_id: self._page_token(user, page_id) for page_id in self.pages.get(account_id, {})
        }
        return result

    def _page_token(self, user: Token, page_id: str) -> str:
        key = (user.value, page_id)
        existing = self._page_token_of.get(key)
        if existing is not None:
            return existing
        lifetime = None
        if not user.long_lived and user.expires_at is not None:
            lifetime = user.expires_at - self.now()
        token = self._mint(
            "page", user.account_id, user.scope, lifetime, page_id=page_id, long_lived=True
        )
        self._page_token_of[key] = token.value
        return token.value

    def _offline(self, query: dict[str, str], scope: tuple[str, ...], account_id: str) -> bool:
        return False

    def _denied_params(self, error: str) -> dict[str, str]:
        return {
            "error": error,
            "error_code": "200",
            "error_description": "Permissions error",
            "error_reason": "user_denied",
        }

    def _grant_failure_key(self, grant: str | None) -> str | None:
        return "exchange" if grant == "fb_exchange_token" else None

    def _grant_type(self, params: dict[str, str]) -> str | None:
        # Facebook's code exchange needs no grant_type.
        if "grant_type" not in params and "code" in params:
            return "authorization_code"
        return params.get("grant_type")

    def _other_grant(self, grant: str | None, params: dict[str, str]) -> web.StreamResponse | None:
        if grant != "fb_exchange_token":
            return None
        value = params.get("fb_exchange_token")
        if not value:
            return _graph_error("Missing parameter fb_exchange_token", 100)
        self._presented[value] += 1
        token, live = self._lookup_access(value)
        if token is None or token.kind == "page":
            return self._graph_dead(None)
        if not live:
            return self._graph_dead(token)
        return self._long_lived_answer(token)

    def _token_body(
        self, access: Token, refresh: Token | None, grant: str, params: dict[str, str]
    ) -> dict[str, Any]:
        return {
            "access_token": access.value,
            "token_type": "bearer",
            "expires_in": self._seconds_left(access),
        }

    def _err_client(self, *, missing: bool, unknown_client: bool = False) -> web.Response:
        if missing:
            return _graph_error("Missing client_id or client_secret parameter.", 101)
        if unknown_client:
            return _graph_error("Error validating application. Invalid application ID.", 101)
        return _graph_error("Error validating client secret.", 1)

    def _err_missing(self, param: str) -> web.Response:
        return _graph_error(f"Missing {param} parameter.", 100)

    def _err_unsupported_grant(self, grant: str) -> web.Response:
        return _graph_error(f"Unsupported grant_type: {grant}", 100)

    def _err_code(self, reason: str) -> web.Response:
        if reason == "used":
            return _graph_error("This authorization code has been used.", 100, 36009)
        if reason == "expired":
            return _graph_error("This authorization code has expired.", 100, 36007)
        if reason == "unknown":
            return _graph_error("Invalid verification code format.", 100)
        return _graph_error(
            "Error validating verification code. Please make sure your redirect_uri is "
            "identical to the one you used in the OAuth dialog request",
            100,
            36008,
        )

    async def _handle_me(self, request: web.Request) -> web.StreamResponse:
        token = await self._graph_authenticated(request, "userinfo")
        if not isinstance(token, Token):
            return token
        fields = _fields(request.query.get("fields"), ("id", "name"))
        if token.kind == "page" and token.page_id is not None:
            values: dict[str, Any] = {
                "id": token.page_id,
                "name": self.pages[token.account_id][token.page_id],
            }
            node = "Page"
        else:
            account = self.accounts[token.account_id]
            values = {"id": account.account_id, "name": account.name, **account.extra}
            node = "User"
        body: dict[str, Any] = {}
        for name in fields:
            if name not in values:
                return _graph_error(
                    f"(#100) Tried accessing nonexisting field ({name}) on node type ({node})",
                    100,
                )
            body[name] = values[name]
        body.setdefault("id", values["id"])
        return web.json_response(body)

    async def _handle_accounts(self, request: web.Request) -> web.StreamResponse:
        token = await self._graph_authenticated(request, "accounts")
        if not isinstance(token, Token):
            return token
        node = request.match_info.get("node", "me")
        if token.kind == "page":
            return _graph_error(
                "(#100) Tried accessing nonexisting field (accounts) on node type (Page)", 100
            )
        if node not in ("me", token.account_id):
            return _graph_error(
                f"Unsupported get request. Object with ID '{node}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation.",
                100,
                33,
                type_="GraphMethodException",
            )
        fields = _fields(request.query.get("fields"), self.PAGE_FIELDS)
        pages = list(self.pages.get(token.account_id, {}).items())
        limit = max(1, _int(request.query.get("limit"), 25))
        start = _decode_cursor(request.query.get("after"), default=-1) + 1
        window = pages[start : start + limit]
        data = []
        for page_id, page_name in window:
            values = {
                "id": page_id,
                "name": page_name,
                "access_token": self._page_token(token, page_id),
                "category": "Community",
                "tasks": ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"],
            }
            data.append({name: values[name] for name in fields if name in values})
        body: dict[str, Any] = {"data": data}
        if window:
            paging: dict[str, Any] = {
                "cursors": {
                    "before": _encode_cursor(start),
                    "after": _encode_cursor(start + len(window) - 1),
                }
            }
            if start + len(window) < len(pages):
                next_query = {
                    **request.query,
                    "limit": str(limit),
                    "after": _encode_cursor(start + len(window) - 1),
                }
                paging["next"] = f"{self.base_url}{request.path}?{urlencode(next_query)}"
            body["paging"] = paging
        return web.json_response(body)


INSTAGRAM_EXPIRES_IN = 5184000  # 60 days


class FakeInstagram(_GraphNetwork):
    """Instagram API with Instagram Login (www.instagram.com, api.instagram.com and
    graph.instagram.com folded into one server).

    * authorize ``/oauth/authorize`` (comma-separated scope; docs); the success redirect
      carries a ``#_`` fragment (docs: "#_ will be appended"); denied:
      ``error=access_denied&error_reason=user_denied&error_description=...`` (docs, legacy).
    * token ``POST /oauth/access_token`` (form: client_id, client_secret, grant_type,
      redirect_uri, code; docs): a one-hour token. Default answer (``token_response_style =
      "flat"``, docs reference page): ``{"access_token", "user_id", "permissions"}``;
      ``"data"`` gives the guide's ``{"data": [{...}]}`` wrapper. ``user_id`` is a JSON number
      when the account id is all digits (docs sample), else a string. Errors:
      ``{"error_type":"OAuthException","code":400,"error_message":...}`` (3P).
    * exchange ``GET /access_token?grant_type=ig_exchange_token&client_secret&access_token``
      (docs): ``{access_token, token_type:"bearer", expires_in: 5184000}`` (60 days).
    * refresh ``GET /refresh_access_token?grant_type=ig_refresh_token&access_token`` (docs): a
      live long-lived token at least 24 hours old gets a new token valid 60 days; the old one
      stays valid until its own expiry (unconfirmed). Younger than 24 hours (or short-lived):
      400 Graph error ``TOO_YOUNG`` (code 100; the real answer is unconfirmed). Expired: 190/463.
      ``refresh_uses(T)`` counts refreshes (and exchanges) presenting T.
    * ``GET /v23.0/me?fields=user_id,username`` (docs): requested fields + ``id`` (here ``id``
      and ``user_id`` are both the account id; on the real API they can differ). Dead token:
      Graph 190 like Facebook.
    """

    name = "instagram"
    URL_PATHS = {
        "authorize": "/oauth/authorize",
        "token": "/oauth/access_token",
        "exchange": "/access_token",
        "refresh": "/refresh_access_token",
        "userinfo": f"/{GRAPH_VERSION}/me?fields=user_id,username",
    }
    DEFAULT_SCOPES = ("instagram_business_basic",)
    ACCESS_LIFETIME = timedelta(hours=1)
    LONG_LIVED_LIFETIME = timedelta(seconds=INSTAGRAM_EXPIRES_IN)
    ACCESS_PREFIX = "IGAA"
    REFRESH_MIN_AGE: ClassVar[timedelta] = timedelta(hours=24)
    TOO_YOUNG: ClassVar[tuple[str, int]] = (
        "Unsupported request - cannot refresh a token that is less than 24 hours old",
        100,
    )
    USER_FIELDS: ClassVar[tuple[str, ...]] = (
        "id",
        "user_id",
        "username",
        "name",
        "account_type",
        "profile_picture_url",
        "followers_count",
        "follows_count",
        "media_count",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token_response_style = "flat"

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/oauth/authorize", self._handle_authorize),
            ("POST", "/oauth/access_token", self._handle_token),
            ("GET", "/access_token", self._handle_exchange),
            ("GET", "/refresh_access_token", self._handle_refresh),
            ("GET", f"/{_VERSION}/me", self._handle_me),
            ("GET", "/me", self._handle_me),
        ]

    @property
    def failure_keys(self) -> set[str]:
        return super().failure_keys | {"exchange"}

    def add_account(self, account_id: str, name: str, **extra: Any) -> Account:
        extra.setdefault("username", re.sub(r"\W+", "", name.lower()) or account_id)
        extra.setdefault("account_type", "BUSINESS")
        return super().add_account(account_id, name, **extra)

    def _offline(self, query: dict[str, str], scope: tuple[str, ...], account_id: str) -> bool:
        return False

    def _redirect_fragment(self) -> str:
        return "_"

    def _denied_params(self, error: str) -> dict[str, str]:
        return {
            "error": error,
            "error_reason": "user_denied",
            "error_description": "The user denied your request",
        }

    def _token_body(
        self, access: Token, refresh: Token | None, grant: str, params: dict[str, str]
    ) -> dict[str, Any]:
        user_id: Any = _maybe_int(access.account_id)
        item = {
            "access_token": access.value,
            "user_id": user_id,
            "permissions": ",".join(access.scope),
        }
        if self.token_response_style == "data":
            return {"data": [item]}
        return item

    def _ig_error(self, message: str) -> web.Response:
        return web.json_response(
            {"error_type": "OAuthException", "code": 400, "error_message": message}, status=400
        )

    def _err_client(self, *, missing: bool, unknown_client: bool = False) -> web.Response:
        if missing or unknown_client:
            return self._ig_error("Invalid platform app")
        return self._ig_error("Error validating client secret.")

    def _err_missing(self, param: str) -> web.Response:
        return self._ig_error(f"Missing required field {param}")

    def _err_unsupported_grant(self, grant: str) -> web.Response:
        return self._ig_error("Invalid grant_type")

    def _err_code(self, reason: str) -> web.Response:
        if reason == "used":
            return self._ig_error("This authorization code has been used")
        if reason == "redirect":
            return self._ig_error(
                "Error validating verification code. Please make sure your redirect_uri is "
                "identical to the one you used in the OAuth dialog request"
            )
        return self._ig_error("Invalid authorization code")

    async def _handle_exchange(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        self.token_requests.append(query)
        early = await self._begin("exchange", request, query)
        if early is not None:
            return early
        if query.get("grant_type") != "ig_exchange_token":
            return _graph_error("Unsupported grant_type", 100)
        secret = query.get("client_secret") or ""
        if not hmac.compare_digest(secret.encode(), self.client_secret.encode()):
            return _graph_error("Error validating client secret.", 101)
        value = query.get("access_token")
        if value:
            self._presented[value] += 1
        token, live = self._lookup_access(value)
        if token is None or not live:
            return self._graph_dead(token)
        return self._long_lived_answer(token)

    async def _handle_refresh(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        self.token_requests.append(query)
        early = await self._begin("refresh", request, query)
        if early is not None:
            return early
        if query.get("grant_type") != "ig_refresh_token":
            return _graph_error("Unsupported grant_type", 100)
        value = query.get("access_token")
        if value:
            self._presented[value] += 1
        token, live = self._lookup_access(value)
        if token is None or not live:
            return self._graph_dead(token)
        if not token.long_lived or self.now() - token.issued_at < self.REFRESH_MIN_AGE:
            message, code = self.TOO_YOUNG
            return _graph_error(message, code)
        return self._long_lived_answer(token)

    async def _handle_me(self, request: web.Request) -> web.StreamResponse:
        token = await self._graph_authenticated(request, "userinfo")
        if not isinstance(token, Token):
            return token
        account = self.accounts[token.account_id]
        values: dict[str, Any] = {
            "id": account.account_id,
            "user_id": account.account_id,
            "username": account.extra["username"],
            "name": account.name,
            **{k: v for k, v in account.extra.items() if k in self.USER_FIELDS},
        }
        fields = _fields(request.query.get("fields"), ("id",))
        body: dict[str, Any] = {}
        for name in fields:
            if name not in values:
                return _graph_error(
                    f"Tried accessing nonexisting field ({name}) on node type (User)", 100
                )
            body[name] = values[name]
        body.setdefault("id", account.account_id)
        return web.json_response(body)


# --- YouTube (Google) -----------------------------------------------------------------------

GOOGLE_UNAUTHENTICATED = {
    "error": {
        "code": 401,
        "message": "Request had invalid authentication credentials. Expected OAuth 2 access "
        "token, login cookie or other valid authentication credential. See "
        "https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "errors": [
            {
                "message": "Invalid Credentials",
                "domain": "global",
                "reason": "authError",
                "location": "Authorization",
                "locationType": "header",
            }
        ],
        "status": "UNAUTHENTICATED",
    }
}


def _google_error(status: int, message: str, reason: str, state: str) -> web.Response:
    return web.json_response(
        {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": "global", "reason": reason}],
                "status": state,
            }
        },
        status=status,
    )


class FakeYouTube(FakeNetwork):
    """Google OAuth + YouTube Data API v3.

    * authorize ``/o/oauth2/v2/auth``; token ``POST /token`` with client_id/client_secret in the
      form (Basic also accepted, as Google does; docs).
    * ``{access_token, expires_in: 3599, scope, token_type:"Bearer"}`` + ``refresh_token`` only
      when the authorize had ``access_type=offline`` (docs) and either the account has not
      granted offline access before or ``prompt`` included ``consent`` (3P, widely reported;
      docs say "the first time"). Older refresh tokens keep working.
    * refresh: a new access token, no new refresh token; the old one keeps working (docs).
      Revoked (or, with ``refresh_lifetime`` set, e.g. 7 days for apps in "testing", 3P):
      400 ``{"error":"invalid_grant","error_description":"Token has been expired or
      revoked."}`` (docs/3P).
    * ``GET /youtube/v3/channels?part=snippet&mine=true``: ``{"kind","etag","pageInfo",
      "items":[{"kind","etag","id","snippet":{"title",...}}]}`` (docs); ``items`` is left out
      when there is no channel (docs behaviour). This fake lists every channel of the account
      (``add_account`` creates channel ``account_id`` titled ``name`` unless ``channel=False``;
      ``add_channel`` adds more); the real ``mine=true`` answers for the channel picked at
      consent, usually one. Dead token: 401 UNAUTHENTICATED body (docs/3P); no youtube scope:
      403 insufficientPermissions.
    """

    name = "youtube"
    URL_PATHS = {
        "authorize": "/o/oauth2/v2/auth",
        "token": "/token",
        "userinfo": "/youtube/v3/channels?part=snippet&mine=true",
    }
    CLIENT_AUTH = "basic_or_post"
    DEFAULT_SCOPES = ("https://www.googleapis.com/auth/youtube.readonly",)
    ACCESS_LIFETIME = timedelta(seconds=3599)
    REFRESH_LIFETIME = None
    ACCESS_PREFIX = "ya29."
    REFRESH_PREFIX = "1//"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # account id -> {channel id: title}
        self.channels: dict[str, dict[str, str]] = {}
        self._offline_granted: set[str] = set()

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/o/oauth2/v2/auth", self._handle_authorize),
            ("POST", "/token", self._handle_token),
            ("GET", "/youtube/v3/channels", self._handle_channels),
        ]

    def add_account(self, account_id: str, name: str, **extra: Any) -> Account:
        """A Google account; with its own channel (id ``account_id``, title ``name``) unless
        ``channel=False``."""
        with_channel = extra.pop("channel", True)
        account = super().add_account(account_id, name, **extra)
        self.channels.setdefault(account_id, {})
        if with_channel:
            self.channels[account_id][account_id] = name
        return account

    def add_channel(self, account_id: str, channel_id: str, title: str) -> None:
        self._require_account(account_id)
        self.channels.setdefault(account_id, {})[channel_id] = title

    def _offline(self, query: dict[str, str], scope: tuple[str, ...], account_id: str) -> bool:
        if query.get("access_type") != "offline":
            return False
        prompts = query.get("prompt", "").split()
        return account_id not in self._offline_granted or "consent" in prompts

    def _consented(self, account_id: str) -> None:
        self._offline_granted.add(account_id)

    def _forget_consent(self, account_id: str) -> None:
        self._offline_granted.discard(account_id)

    def _rotates(self, params: dict[str, str]) -> bool:
        return False

    def _err_client(self, *, missing: bool, unknown_client: bool = False) -> web.Response:
        if unknown_client:
            return self._oauth_error(401, "invalid_client", "The OAuth client was not found.")
        return self._oauth_error(401, "invalid_client", "Unauthorized")

    def _err_code(self, reason: str) -> web.Response:
        if reason == "redirect":
            return self._oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        if reason == "pkce":
            return self._oauth_error(400, "invalid_grant", "Invalid code verifier.")
        return self._oauth_error(400, "invalid_grant", "Bad Request")

    async def _handle_channels(self, request: web.Request) -> web.StreamResponse:
        early = await self._begin("userinfo", request, dict(request.query))
        if early is not None:
            return early
        token, live = self._lookup_access(self._bearer_token(request))
        if token is None or not live:
            return web.json_response(GOOGLE_UNAUTHENTICATED, status=401)
        if not any("auth/youtube" in s for s in token.scope):
            return _google_error(
                403,
                "Request had insufficient authentication scopes.",
                "insufficientPermissions",
                "PERMISSION_DENIED",
            )
        parts = [p for p in request.query.get("part", "").split(",") if p]
        if not parts:
            return _google_error(400, "Required parameter: part", "required", "INVALID_ARGUMENT")
        if request.query.get("mine") != "true" and "id" not in request.query:
            return _google_error(
                400,
                "No filter selected. Expected one of: forUsername, id, managedByMe, mine, "
                "forHandle",
                "missingRequiredParameter",
                "INVALID_ARGUMENT",
            )
        channels = list(self.channels.get(token.account_id, {}).items())
        if "id" in request.query:
            wanted = request.query["id"].split(",")
            channels = [c for c in channels if c[0] in wanted]
        items = []
        for channel_id, title in channels:
            item: dict[str, Any] = {
                "kind": "youtube#channel",
                "etag": secrets.token_urlsafe(12),
                "id": channel_id,
            }
            if "snippet" in parts:
                item["snippet"] = {
                    "title": title,
                    "description": "",
                    "customUrl": "@" + re.sub(r"\W+", "", title.lower()),
                    "publishedAt": "2020-01-01T00:00:00Z",
                    "thumbnails": {},
                    "localized": {"title": title, "description": ""},
                }
            items.append(item)
        body: dict[str, Any] = {
            "kind": "youtube#channelListResponse",
            "etag": secrets.token_urlsafe(12),
            "pageInfo": {"totalResults": len(items), "resultsPerPage": 5},
        }
        if items:
            body["items"] = items
        return web.json_response(body)


# --- TikTok ---------------------------------------------------------------------------------


def _log_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(10).upper()


class FakeTikTok(FakeNetwork):
    """TikTok Login Kit (OAuth v2) + Display API.

    * authorize ``/v2/auth/authorize/`` takes ``client_key`` (not client_id) and a
      comma-separated scope (docs); the redirect carries ``code``, ``scopes``, ``state``.
    * token ``POST /v2/oauth/token/`` with client_key + client_secret in the form (docs).
      ``{access_token, expires_in: 86400, open_id, refresh_token, refresh_expires_in:
      31536000, scope, token_type:"Bearer"}`` (docs; newer docs say 2 hours / 180 days: set
      ``access_lifetime`` / ``refresh_lifetime``). The refresh token's life counts from the
      first consent (older docs: "365 days after the initial issuance").
    * refresh rotates: new refresh token, the old one stops working (docs, current). Errors are
      ``{"error","error_description","log_id"}`` (docs: OAuth error handling). The HTTP status
      of OAuth errors is not documented; third-party reports say TikTok answers 200 with the
      error body, so ``oauth_error_status = 200`` by default (set 400 to change). A spent or
      revoked refresh token: ``invalid_grant`` "Refresh token is invalid or expired.".
    * ``GET /v2/user/info/?fields=open_id,display_name`` (docs): ``{"data":{"user":{...
      requested fields}},"error":{"code":"ok","message":"","log_id"}}``. Dead token: 401
      ``{"data":{},"error":{"code":"access_token_invalid","message":"The access token is
      invalid or not found in the request.","log_id"}}`` (docs: API v2 error handling);
      without ``user.info.basic``: 401 ``scope_not_authorized`` (docs).
    """

    name = "tiktok"
    URL_PATHS = {
        "authorize": "/v2/auth/authorize/",
        "token": "/v2/oauth/token/",
        "userinfo": "/v2/user/info/?fields=open_id,display_name",
    }
    CLIENT_ID_PARAM = "client_key"
    SCOPE_SEPARATOR = ","
    DEFAULT_SCOPES = ("user.info.basic",)
    ACCESS_LIFETIME = timedelta(seconds=86400)
    REFRESH_LIFETIME = timedelta(seconds=31536000)
    REFRESH_LIFETIME_FROM_CONSENT = True
    ACCESS_PREFIX = "act."
    REFRESH_PREFIX = "rft."

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.oauth_error_status = 200

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/v2/auth/authorize/", self._handle_authorize),
            ("POST", "/v2/oauth/token/", self._handle_token),
            ("GET", "/v2/user/info/", self._handle_user_info),
        ]

    def add_account(self, account_id: str, name: str, **extra: Any) -> Account:
        extra.setdefault("username", re.sub(r"\W+", "", name.lower()) or account_id)
        extra.setdefault("union_id", "u" + account_id)
        extra.setdefault("avatar_url", f"https://p16.tiktokcdn.example/{account_id}.jpeg")
        return super().add_account(account_id, name, **extra)

    def _redirect_extras(self, code: _Code) -> dict[str, str]:
        return {"scopes": ",".join(code.scope)}

    def _token_body(
        self, access: Token, refresh: Token | None, grant: str, params: dict[str, str]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": access.value,
            "expires_in": self._seconds_left(access),
            "open_id": access.account_id,
            "scope": ",".join(access.scope),
            "token_type": "Bearer",
        }
        if refresh is not None:
            body["refresh_token"] = refresh.value
            body["refresh_expires_in"] = self._seconds_left(refresh)
        return body

    def _oauth_error(self, status: int, error: str, description: str) -> web.Response:
        return web.json_response(
            {"error": error, "error_description": description, "log_id": _log_id()},
            status=self.oauth_error_status,
            headers=_NO_STORE,
        )

    def _err_client(self, *, missing: bool, unknown_client: bool = False) -> web.Response:
        return self._oauth_error(401, "invalid_client", "Client key or secret is incorrect.")

    def _err_code(self, reason: str) -> web.Response:
        if reason == "expired":
            return self._oauth_error(400, "invalid_grant", "Authorization code is expired.")
        if reason == "redirect":
            return self._oauth_error(400, "invalid_grant", "Redirect URI is not matched.")
        if reason == "pkce":
            return self._oauth_error(400, "invalid_grant", "Code verifier is invalid.")
        return self._oauth_error(400, "invalid_grant", "Authorization code is invalid.")

    def _err_dead_refresh(self) -> web.Response:
        return self._oauth_error(400, "invalid_grant", "Refresh token is invalid or expired.")

    async def _handle_user_info(self, request: web.Request) -> web.StreamResponse:
        early = await self._begin("userinfo", request, dict(request.query))
        if early is not None:
            return early

        def error(status: int, code: str, message: str) -> web.Response:
            body = {"data": {}, "error": {"code": code, "message": message, "log_id": _log_id()}}
            return web.json_response(body, status=status)

        token, live = self._lookup_access(self._bearer_token(request))
        if token is None or not live:
            return error(
                401,
                "access_token_invalid",
                "The access token is invalid or not found in the request.",
            )
        if "user.info.basic" not in token.scope:
            return error(
                401,
                "scope_not_authorized",
                "The user did not authorize the scope required for completing this request.",
            )
        fields = [f for f in request.query.get("fields", "").split(",") if f]
        if not fields:
            return error(400, "invalid_params", "The fields parameter is required.")
        account = self.accounts[token.account_id]
        values = {"open_id": account.account_id, "display_name": account.name, **account.extra}
        user = {name: values[name] for name in fields if name in values}
        return web.json_response(
            {"data": {"user": user}, "error": {"code": "ok", "message": "", "log_id": _log_id()}}
        )


# --- Pinterest ------------------------------------------------------------------------------

PINTEREST_AUTH_FAILED = {"code": 2, "message": "Authentication failed."}
PINTEREST_BAD_GRANT = {"code": 283, "message": "The authorization grant is invalid"}


class FakePinterest(FakeNetwork):
    """Pinterest API v5.

    * authorize ``/oauth/`` (comma-separated scope; 3P/NETWORKS.md); token ``POST
      /v5/oauth/token`` with HTTP Basic client auth (docs: OpenAPI "basic").
    * code exchange: ``{access_token, refresh_token, response_type:"authorization_code",
      token_type:"bearer", expires_in: 2592000, refresh_token_expires_in: 31536000, scope}``.
    * refresh without ``refresh_on``: ``{access_token, response_type:"refresh_token",
      token_type, expires_in, scope}`` and no new refresh token; the old keeps working.
      With ``refresh_on=true`` (docs: "refresh_on and its corresponding response type
      everlasting_refresh"): ``response_type:"everlasting_refresh"`` plus a new
      ``refresh_token``, ``refresh_token_expires_in`` and ``refresh_token_expires_at``; the old
      refresh token stops working at once (my choice: single use, as NETWORKS.md's warning
      assumes). ``continuous_refresh = True`` models Pinterest's 2025 change (3P quoting the
      announcement: continuous refresh tokens only, 60 days, refreshable indefinitely): every
      refresh then rotates and refresh tokens live 60 days.
    * a dead refresh token or code: 401/400 ``{"code":283,"message":"The authorization grant is
      invalid"}`` (3P: Pinterest's SDK issue #114 shows this body with a 401).
    * ``GET /v5/user_account``: ``{"account_type","id","username","profile_image",
      "website_url","business_name"}`` (docs); dead token 401 ``{"code":2,"message":
      "Authentication failed."}`` (3P/NETWORKS.md).
    """

    name = "pinterest"
    URL_PATHS = {
        "authorize": "/oauth/",
        "token": "/v5/oauth/token",
        "userinfo": "/v5/user_account",
    }
    CLIENT_AUTH = "basic"
    SCOPE_SEPARATOR = ","
    DEFAULT_SCOPES = ("user_accounts:read",)
    ACCESS_LIFETIME = timedelta(seconds=2592000)
    REFRESH_LIFETIME = timedelta(seconds=31536000)
    ACCESS_PREFIX = "pina_"
    REFRESH_PREFIX = "pinr_"
    CONTINUOUS_REFRESH_LIFETIME: ClassVar[timedelta] = timedelta(days=60)
    DEAD_GRANT_STATUS: ClassVar[int] = 401

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._continuous = False

    @property
    def continuous_refresh(self) -> bool:
        return self._continuous

    @continuous_refresh.setter
    def continuous_refresh(self, value: bool) -> None:
        self._continuous = value
        self.refresh_lifetime = self.CONTINUOUS_REFRESH_LIFETIME if value else self.REFRESH_LIFETIME

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/oauth/", self._handle_authorize),
            ("POST", "/v5/oauth/token", self._handle_token),
            ("GET", "/v5/user_account", self._handle_user_account),
        ]

    def add_account(self, account_id: str, name: str, **extra: Any) -> Account:
        extra.setdefault("username", re.sub(r"\W+", "", name.lower()) or account_id)
        extra.setdefault("account_type", "BUSINESS")
        return super().add_account(account_id, name, **extra)

    def _rotates(self, params: dict[str, str]) -> bool:
        return self._continuous or params.get("refresh_on", "").lower() == "true"

    def _token_body(
        self, access: Token, refresh: Token | None, grant: str, params: dict[str, str]
    ) -> dict[str, Any]:
        if grant == "authorization_code":
            response_type = "authorization_code"
        elif refresh is not None:
            response_type = "everlasting_refresh"
        else:
            response_type = "refresh_token"
        body: dict[str, Any] = {"access_token": access.value}
        if refresh is not None:
            body["refresh_token"] = refresh.value
        body.update(
            {
                "response_type": response_type,
                "token_type": "bearer",
                "expires_in": self._seconds_left(access),
            }
        )
        if refresh is not None:
            body["refresh_token_expires_in"] = self._seconds_left(refresh)
            if response_type == "everlasting_refresh" and refresh.expires_at is not None:
                body["refresh_token_expires_at"] = int(refresh.expires_at.timestamp())
        body["scope"] = ",".join(access.scope)
        return body

    def _err_client(self, *, missing: bool, unknown_client: bool = False) -> web.Response:
        return web.json_response(PINTEREST_AUTH_FAILED, status=401)

    def _err_missing(self, param: str) -> web.Response:
        return web.json_response({"code": 1, "message": f"Missing parameter {param}"}, status=400)

    def _err_unsupported_grant(self, grant: str) -> web.Response:
        return web.json_response({"code": 1, "message": f"Invalid grant_type {grant}"}, status=400)

    def _err_code(self, reason: str) -> web.Response:
        return web.json_response(PINTEREST_BAD_GRANT, status=400)

    def _err_dead_refresh(self) -> web.Response:
        return web.json_response(PINTEREST_BAD_GRANT, status=self.DEAD_GRANT_STATUS)

    async def _handle_user_account(self, request: web.Request) -> web.StreamResponse:
        early = await self._begin("userinfo", request, dict(request.query))
        if early is not None:
            return early
        token, live = self._lookup_access(self._bearer_token(request))
        if token is None or not live:
            return web.json_response(PINTEREST_AUTH_FAILED, status=401)
        account = self.accounts[token.account_id]
        return web.json_response(
            {
                "account_type": account.extra["account_type"],
                "id": account.account_id,
                "username": account.extra["username"],
                "profile_image": f"https://i.pinimg.example/{account.account_id}.jpg",
                "website_url": account.extra.get("website_url", ""),
                "business_name": account.name,
            }
        )


FAKES: dict[str, type[FakeNetwork]] = {
    fake.name: fake
    for fake in (
        FakeLinkedIn,
        FakeX,
        FakeFacebook,
        FakeInstagram,
        FakeYouTube,
        FakeTikTok,
        FakePinterest,
    )
}


# --- helpers --------------------------------------------------------------------------------


def _take(failures: list[_Failure] | None) -> _Failure | None:
    if not failures:
        return None
    failure = failures[0]
    failure.times -= 1
    if failure.times <= 0:
        failures.pop(0)
    return failure


def _failure_response(failure: _Failure) -> web.Response:
    headers = {}
    if failure.retry_after is not None:
        value = failure.retry_after
        if isinstance(value, datetime):
            headers["Retry-After"] = format_datetime(value.astimezone(UTC), usegmt=True)
        elif isinstance(value, int | float):
            headers["Retry-After"] = str(int(value))
        else:
            headers["Retry-After"] = str(value)
    body = failure.body
    if body is None:
        body = {
            "error": "temporarily_unavailable",
            "error_description": f"The service is temporarily unavailable ({failure.status})",
        }
    if isinstance(body, dict | list):
        return web.json_response(body, status=failure.status, headers=headers)
    return web.Response(
        text=str(body), status=failure.status, headers=headers, content_type="text/plain"
    )


def _page(status: int, message: str) -> web.Response:
    html = f"<!DOCTYPE html><html><body><h1>Error</h1><p>{message}</p></body></html>"
    return web.Response(status=status, text=html, content_type="text/html")


def _redirect(redirect_uri: str, params: dict[str, str], fragment: str = "") -> web.Response:
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend(params.items())
    location = urlunsplit(parts._replace(query=urlencode(query), fragment=fragment))
    return web.Response(status=302, headers={"Location": location})


def _bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    return None


def _basic_credentials(request: web.Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    # RFC 6749 section 2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote(user.replace("+", " ")), unquote(password.replace("+", " "))


def _pkce_ok(code: _Code, verifier: str | None) -> bool:
    if code.challenge is None:
        return True
    if not verifier:
        return False
    if code.method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        expected = verifier
    return hmac.compare_digest(expected, code.challenge)


def _split_scope(text: str) -> tuple[str, ...]:
    return tuple(s for s in re.split(r"[,\s]+", text) if s)


def _fields(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if not text:
        return default
    return tuple(f.strip() for f in text.split(",") if f.strip())


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _maybe_int(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _encode_cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"cursor:{index}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None, default: int) -> int:
    if not cursor:
        return default
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(base64.urlsafe_b64decode(padded).decode().removeprefix("cursor:"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return default
