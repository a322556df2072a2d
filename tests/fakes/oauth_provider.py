"""A fake OAuth 2.0 / OpenID Connect provider shaped like LinkedIn's, over real HTTP.

Endpoints (same paths as LinkedIn): ``GET /oauth/v2/authorization``,
``POST /oauth/v2/accessToken`` (form) and ``GET /v2/userinfo`` (Bearer token).

The "person at the browser" is chosen with :meth:`FakeOAuthProvider.login_as`; a test plays
the browser by GETting the authorize URL without following the redirect and reading
``code`` / ``state`` from the ``Location`` header.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from aiohttp import web

from fakes.server import Handler, LocalServer

CODE_LIFETIME = timedelta(minutes=30)
REFRESH_TOKEN_LIFETIME = timedelta(days=365)
INVALID_TOKEN_BODY = {"message": "Invalid access token", "serviceErrorCode": 65600, "status": 401}
EMPTY_TOKEN_BODY = {"message": "Empty oauth2_access_token", "serviceErrorCode": 401, "status": 401}
REVOKED_MESSAGE = "Token has been expired or revoked."


@dataclass
class Account:
    sub: str
    name: str
    given_name: str
    family_name: str
    picture: str
    email: str | None = None


@dataclass
class _Code:
    code: str
    client_id: str
    redirect_uri: str
    sub: str
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: datetime
    used: bool = False
    issued_access_tokens: list[str] = field(default_factory=list)
    issued_refresh_tokens: list[str] = field(default_factory=list)


@dataclass
class _AccessToken:
    token: str
    sub: str
    scope: str
    expires_at: datetime
    revoked: bool = False


@dataclass
class _RefreshToken:
    token: str
    sub: str
    scope: str
    consented_at: datetime
    revoked: bool = False

    @property
    def expires_at(self) -> datetime:
        return self.consented_at + REFRESH_TOKEN_LIFETIME


@dataclass
class _Failure:
    status: int
    times: int


def _real_now() -> datetime:
    return datetime.now(UTC)


class FakeOAuthProvider(LocalServer):
    """Fake LinkedIn-like OAuth 2.0 provider. See module docstring."""

    def __init__(
        self,
        client_id: str = "client-id",
        client_secret: str = "client-secret",
        access_token_lifetime: int = 5184000,
        issue_refresh_tokens: bool = False,
        *,
        redirect_uris: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_lifetime = access_token_lifetime
        self.issue_refresh_tokens = issue_refresh_tokens
        # None accepts any redirect_uri; a list requires an exact match (like LinkedIn's app
        # settings).
        self.redirect_uris = redirect_uris
        self.now: Callable[[], datetime] = _real_now
        self.accounts: dict[str, Account] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.userinfo_requests: list[str | None] = []
        self._logged_in: str | None = None
        self._deny_next = False
        self._codes: dict[str, _Code] = {}
        self._access_tokens: dict[str, _AccessToken] = {}
        self._refresh_tokens: dict[str, _RefreshToken] = {}
        self._token_failures: list[_Failure] = []
        self._userinfo_failures: list[_Failure] = []
        self._hang_token_seconds: float | None = None
        self.token_requested = asyncio.Event()  # set by every token request

    # --- lifecycle -------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/oauth/v2/authorization", self._handle_authorize),
            ("POST", "/oauth/v2/accessToken", self._handle_token),
            ("GET", "/v2/userinfo", self._handle_userinfo),
        ]

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/oauth/v2/authorization"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/v2/accessToken"

    @property
    def userinfo_url(self) -> str:
        return f"{self.base_url}/v2/userinfo"

    # --- test controls ---------------------------------------------------------------------

    def add_account(
        self,
        sub: str,
        name: str,
        *,
        picture: str | None = None,
        email: str | None = None,
    ) -> Account:
        given, _, family = name.partition(" ")
        account = Account(
            sub=sub,
            name=name,
            given_name=given,
            family_name=family,
            picture=picture or f"https://media.licdn.example/{sub}.jpg",
            email=email,
        )
        self.accounts[sub] = account
        return account

    def login_as(self, sub: str) -> None:
        """Choose who is signed in at the browser for the following authorize visits (it
        stays until changed). Without it, the only account (if exactly one) is used."""
        if sub not in self.accounts:
            raise KeyError(f"no account {sub!r}; call add_account first")
        self._logged_in = sub

    def deny_next(self) -> None:
        """The next authorize visit is cancelled by the user (error=access_denied)."""
        self._deny_next = True

    def fail_token(self, status: int = 503, times: int = 1) -> None:
        self._token_failures.append(_Failure(status, times))

    def fail_userinfo(self, status: int = 503, times: int = 1) -> None:
        self._userinfo_failures.append(_Failure(status, times))

    def hang_token(self, seconds: float) -> None:
        """The next token request waits ``seconds`` (or until stop()) before answering."""
        self._hang_token_seconds = seconds

    def revoke_tokens(self, sub: str) -> None:
        """Revoke every access and refresh token of an account (as if the member removed the
        app in LinkedIn's settings)."""
        for access in self._access_tokens.values():
            if access.sub == sub:
                access.revoked = True
        for refresh in self._refresh_tokens.values():
            if refresh.sub == sub:
                refresh.revoked = True

    def issued_tokens(self, sub: str) -> list[str]:
        """All access tokens ever issued for an account, oldest first."""
        return [t.token for t in self._access_tokens.values() if t.sub == sub]

    def issued_refresh_tokens(self, sub: str) -> list[str]:
        return [t.token for t in self._refresh_tokens.values() if t.sub == sub]

    def token_is_live(self, token: str) -> bool:
        access = self._access_tokens.get(token)
        return access is not None and self._live(access)

    # --- authorize -------------------------------------------------------------------------

    async def _handle_authorize(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.authorize_requests.append(query)
        client_id = query.get("client_id")
        redirect_uri = query.get("redirect_uri")
        if client_id != self.client_id:
            return _page(400, "The passed in client_id is invalid")
        if not redirect_uri:
            return _page(400, "The redirect_uri is missing")
        if self.redirect_uris is not None and redirect_uri not in self.redirect_uris:
            return _page(400, "The redirect_uri does not match the registered value")
        if query.get("response_type") != "code":
            return _page(400, "The response_type must be code")
        state = query.get("state")
        if not state:
            return _page(400, "The state parameter is missing")
        method = query.get("code_challenge_method")
        challenge = query.get("code_challenge")
        if challenge is not None and (method or "plain") not in ("S256", "plain"):
            return _page(400, "Unsupported code_challenge_method")
        if self._deny_next:
            self._deny_next = False
            return _redirect(
                redirect_uri,
                {
                    "error": "access_denied",
                    "error_description": "The user cancelled LinkedIn login",
                    "state": state,
                },
            )
        sub = self._logged_in
        if sub is None and len(self.accounts) == 1:
            sub = next(iter(self.accounts))
        if sub is None:
            return _page(400, "Nobody is signed in at the browser (call login_as)")
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Code(
            code=code,
            client_id=client_id,
            redirect_uri=redirect_uri,
            sub=sub,
            scope=query.get("scope", ""),
            code_challenge=challenge,
            code_challenge_method=(method or "plain") if challenge is not None else None,
            expires_at=self.now() + CODE_LIFETIME,
        )
        return _redirect(redirect_uri, {"code": code, "state": state})

    # --- token -----------------------------------------------------------------------------

    async def _handle_token(self, request: web.Request) -> web.Response:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        self.token_requests.append(form)
        self.token_requested.set()
        if self._hang_token_seconds is not None and self._release is not None:
            seconds, self._hang_token_seconds = self._hang_token_seconds, None
            try:
                async with asyncio.timeout(seconds):
                    await self._release.wait()
            except TimeoutError:
                pass
        failure = _take(self._token_failures)
        if failure is not None:
            return web.json_response(
                {
                    "error": "temporarily_unavailable",
                    "error_description": "The service is temporarily unavailable",
                },
                status=failure.status,
            )
        client_id, client_secret = _client_credentials(request, form)
        if client_id != self.client_id or client_secret is None:
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        if not hmac.compare_digest(client_secret, self.client_secret):
            return _oauth_error(401, "invalid_client", "Client authentication failed")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._authorization_code_grant(form, client_id)
        if grant_type == "refresh_token":
            return self._refresh_token_grant(form)
        if not grant_type:
            return _oauth_error(
                400, "invalid_request", "A required parameter grant_type is missing"
            )
        return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type {grant_type}")

    def _authorization_code_grant(self, form: dict[str, str], client_id: str) -> web.Response:
        code_value = form.get("code")
        if not code_value:
            return _oauth_error(400, "invalid_request", "A required parameter code is missing")
        if not form.get("redirect_uri"):
            return _oauth_error(
                400, "invalid_request", "A required parameter redirect_uri is missing"
            )
        code = self._codes.get(code_value)
        if code is None:
            return _oauth_error(
                400,
                "invalid_grant",
                "Unable to retrieve access token: authorization code not found",
            )
        if code.used:
            # RFC 6749 section 4.1.2: a reused code is refused and what it produced is revoked.
            for token in code.issued_access_tokens:
                self._access_tokens[token].revoked = True
            for token in code.issued_refresh_tokens:
                self._refresh_tokens[token].revoked = True
            return _oauth_error(
                400, "invalid_grant", "Unable to retrieve access token: authorization code used"
            )
        code.used = True
        mismatch = (
            code.client_id != client_id
            or code.redirect_uri != form["redirect_uri"]
            or self.now() >= code.expires_at
            or not _pkce_ok(code, form.get("code_verifier"))
        )
        if mismatch:
            return _oauth_error(
                400,
                "invalid_grant",
                "Unable to retrieve access token: appid/redirect uri/code verifier does not "
                "match authorization code. Or authorization code expired.",
            )
        body = self._issue(code.sub, code.scope, consented_at=self.now(), code=code)
        return web.json_response(body, headers=_NO_STORE)

    def _refresh_token_grant(self, form: dict[str, str]) -> web.Response:
        value = form.get("refresh_token")
        if not value:
            return _oauth_error(
                400, "invalid_request", "A required parameter refresh_token is missing"
            )
        refresh = self._refresh_tokens.get(value)
        if refresh is None or refresh.revoked or self.now() >= refresh.expires_at:
            return _oauth_error(400, "invalid_grant", REVOKED_MESSAGE)
        refresh.revoked = True  # rotation: the old refresh token is spent
        body = self._issue(refresh.sub, refresh.scope, consented_at=refresh.consented_at)
        return web.json_response(body, headers=_NO_STORE)

    def _issue(
        self, sub: str, scope: str, *, consented_at: datetime, code: _Code | None = None
    ) -> dict[str, Any]:
        now = self.now()
        access = _AccessToken(
            token=secrets.token_urlsafe(32),
            sub=sub,
            scope=scope,
            expires_at=now + timedelta(seconds=self.access_token_lifetime),
        )
        self._access_tokens[access.token] = access
        body: dict[str, Any] = {
            "access_token": access.token,
            "expires_in": self.access_token_lifetime,
            # LinkedIn lists granted scopes comma-separated.
            "scope": ",".join(scope.split()),
            "token_type": "Bearer",
        }
        if code is not None:
            code.issued_access_tokens.append(access.token)
        if self.issue_refresh_tokens:
            refresh = _RefreshToken(
                token=secrets.token_urlsafe(32), sub=sub, scope=scope, consented_at=consented_at
            )
            self._refresh_tokens[refresh.token] = refresh
            body["refresh_token"] = refresh.token
            body["refresh_token_expires_in"] = max(
                0, int((refresh.expires_at - now).total_seconds())
            )
            if code is not None:
                code.issued_refresh_tokens.append(refresh.token)
        return body

    # --- userinfo --------------------------------------------------------------------------

    async def _handle_userinfo(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization")
        self.userinfo_requests.append(header)
        failure = _take(self._userinfo_failures)
        if failure is not None:
            return web.json_response(
                {"message": "Internal Server Error", "status": failure.status},
                status=failure.status,
            )
        scheme, _, token = (header or "").partition(" ")
        token = token.strip()
        if not token or scheme.lower() != "bearer":
            return web.json_response(EMPTY_TOKEN_BODY, status=401)
        access = self._access_tokens.get(token)
        if access is None or not self._live(access):
            return web.json_response(INVALID_TOKEN_BODY, status=401)
        account = self.accounts[access.sub]
        body: dict[str, Any] = {
            "sub": account.sub,
            "name": account.name,
            "given_name": account.given_name,
            "family_name": account.family_name,
            "picture": account.picture,
            "locale": {"country": "US", "language": "en"},
        }
        if account.email is not None and "email" in access.scope.split():
            body["email"] = account.email
            body["email_verified"] = True
        return web.json_response(body)

    def _live(self, access: _AccessToken) -> bool:
        return not access.revoked and self.now() < access.expires_at


_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _take(failures: list[_Failure]) -> _Failure | None:
    if not failures:
        return None
    failure = failures[0]
    failure.times -= 1
    if failure.times <= 0:
        failures.pop(0)
    return failure


def _page(status: int, message: str) -> web.Response:
    html = f"<!DOCTYPE html><html><body><h1>Bad request</h1><p>{message}</p></body></html>"
    return web.Response(status=status, text=html, content_type="text/html")


def _redirect(redirect_uri: str, params: dict[str, str]) -> web.Response:
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend(params.items())
    location = urlunsplit(parts._replace(query=urlencode(query)))
    return web.Response(status=302, headers={"Location": location})


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="oauth"'
    return web.json_response(
        {"error": error, "error_description": description}, status=status, headers=headers
    )


def _client_credentials(
    request: web.Request, form: dict[str, str]
) -> tuple[str | None, str | None]:
    """client_secret_basic (Authorization: Basic) or client_secret_post (form body)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        user, sep, password = decoded.partition(":")
        if not sep:
            return None, None
        # RFC 6749 section 2.3.1: both parts are form-urlencoded before Basic encoding.
        return unquote(user.replace("+", " ")), unquote(password.replace("+", " "))
    return form.get("client_id"), form.get("client_secret")


def _pkce_ok(code: _Code, verifier: str | None) -> bool:
    if code.code_challenge is None:
        return True
    if not verifier:
        return False
    if code.code_challenge_method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        expected = verifier
    return hmac.compare_digest(expected, code.code_challenge)
