"""The demo network: a small OAuth 2 authorization server (code grant, PKCE) on authlib.

It stands in for LinkedIn and X through the bot's documented URL overrides
(``LINKEDIN_AUTHORIZE_URL``, ``LINKEDIN_TOKEN_URL``, ``LINKEDIN_USERINFO_URL``,
``LINKEDIN_ORGANIZATIONS_URL``, ``X_...``), so the demo runs the bot's own code for both: for
LinkedIn the code exchange, the OIDC userinfo identity and the organizations list that decides
whether a login manages a page (60-day tokens, no refresh token: a person reconnects); for X
PKCE, HTTP Basic client authentication and two-hour tokens that the bot renews by itself with
rotating refresh tokens. authlib's server is framework-neutral and synchronous; this module
reads each Starlette request first and hands authlib a plain request object.

Its login page offers three accounts: the source's right account, a wrong one, and one
that manages two pages.
"""

from __future__ import annotations

import hmac
import secrets
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2 import AuthorizationServer, OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bot.clock import Clock
from bot.demo.render import esc

TOKEN_LIFETIME = timedelta(days=60)  # LinkedIn's access tokens
X_TOKEN_LIFETIME = timedelta(hours=2)
CODE_LIFETIME = timedelta(minutes=10)
SCOPES = (
    "openid",
    "profile",
    "rw_organization_admin",
    "tweet.read",
    "users.read",
    "offline.access",
)


@dataclass(frozen=True)
class Account:
    """Someone who can sign in to the demo network."""

    key: str
    sub: str
    name: str
    role: str  # what the login page says about this account
    pages: tuple[tuple[str, str], ...] = ()  # (organization id, name) it administers


ACME = Account(
    "acme",
    "demo-acme-corp",
    "Acme Corp",
    "The right account: Acme's company login. Connect it first, and reconnect the "
    "Acme Corp source with it.",
)
JORDAN = Account(
    "jordan",
    "demo-jordan-lee",
    "Jordan Lee",
    "A wrong account: a personal login. Reconnecting Acme Corp with it is refused, and the "
    "notice's thread says why.",
)
SAM = Account(
    "sam",
    "demo-sam-rivera",
    "Sam Rivera",
    "Manages two pages, Acme Careers and Acme Labs: the login that reconnects the Acme "
    "Careers page.",
    pages=(("2001", "Acme Careers"), ("2002", "Acme Labs")),
)
ACCOUNTS = {account.key: account for account in (ACME, JORDAN, SAM)}


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: tuple[str, ...]
    title: str = "LinkedIn"  # the network this client's sign-in page stands in for
    auth_method: str = "client_secret_post"
    grant_types: tuple[str, ...] = ("authorization_code",)
    token_lifetime: timedelta = TOKEN_LIFETIME

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    account: Account
    expires_at: datetime
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Token:
    account: Account
    scope: str
    expires_at: datetime
    client_id: str = ""
    refresh_token: str | None = field(default=None, repr=False)
    revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self) -> bool:
        return False  # refresh tokens do not expire here; access tokens are checked by time

    def is_revoked(self) -> bool:
        return self.revoked


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, values: list[tuple[str, str]]) -> None:
        self._data = dict(values)
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in values:
            self._datalist[key].append(value)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):  # type: ignore[misc]
    """An already-read Starlette request, in the shape authlib's grants expect."""

    def __init__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
    ) -> None:
        super().__init__(method, url, headers=headers)
        self._args = dict(query)
        self._form = dict(form)
        self.payload = _Payload(query + form)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _Grant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post", "client_secret_basic", "none"]

    def save_authorization_code(self, code: str, request: _Request) -> None:
        network: DemoNetwork = self.server.network
        data = request.payload.data
        network.codes[code] = AuthorizationCode(
            code=code,
            client_id=request.client.client_id,
            redirect_uri=data.get("redirect_uri", ""),
            scope=request.scope or "",
            account=request.user,
            expires_at=network.clock.now() + CODE_LIFETIME,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        network: DemoNetwork = self.server.network
        found = network.codes.get(code)
        if found is None or found.client_id != client.client_id:
            return None
        if found.expires_at <= network.clock.now():
            return None
        return found

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        self.server.network.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Account:
        return authorization_code.account


class _Refresh(grants.RefreshTokenGrant):  # type: ignore[misc]
    """X's refresh grant: each refresh token works once and comes back new."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        token: Token | None = self.server.network.refresh_tokens.get(refresh_token)
        return None if token is None or token.revoked else token

    def authenticate_user(self, refresh_token: Token) -> Account:
        return refresh_token.account

    def revoke_old_credential(self, refresh_token: Token) -> None:
        refresh_token.revoked = True


class _Server(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, network: DemoNetwork) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.network = network
        self.register_grant(_Grant, [CodeChallenge(required=True)])
        self.register_grant(_Refresh)
        self.register_token_generator("default", self._token)

    def query_client(self, client_id: str) -> Client | None:
        return self.network.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: _Request) -> None:
        saved = Token(
            account=request.user,
            scope=token.get("scope", ""),
            expires_at=self.network.clock.now() + timedelta(seconds=int(token["expires_in"])),
            client_id=request.client.client_id,
            refresh_token=token.get("refresh_token"),
        )
        self.network.tokens[token["access_token"]] = saved
        if saved.refresh_token:
            self.network.refresh_tokens[saved.refresh_token] = saved

    def _token(self, **kwargs: Any) -> dict[str, Any]:
        client: Client = kwargs["client"]
        token = {
            "token_type": "Bearer",
            "access_token": secrets.token_urlsafe(32),
            "expires_in": int(client.token_lifetime.total_seconds()),
            "scope": kwargs.get("scope") or "",
        }
        if kwargs.get("include_refresh_token"):
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token

    def create_oauth2_request(self, request: _Request) -> _Request:
        return request

    def create_json_request(self, request: Any) -> Any:  # no JSON endpoints here
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        if isinstance(body, dict):
            return JSONResponse(body, status_code=status, headers=dict(headers))
        return Response(body or "", status_code=status, headers=dict(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass


class DemoNetwork:
    """The authorization server's state (clients, codes, tokens) and its HTTP routes."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, Token] = {}
        self.server = _Server(self)

    def register_client(self, redirect_uri: str) -> Client:
        """A LinkedIn-like client: secret in the form, 60-day tokens, no refresh tokens."""
        return self._add(Client(_new_id(), secrets.token_urlsafe(24), (redirect_uri,)))

    def register_x_client(self, redirect_uri: str) -> Client:
        """An X-like client: HTTP Basic, two-hour tokens and rotating refresh tokens."""
        return self._add(
            Client(
                _new_id(),
                secrets.token_urlsafe(24),
                (redirect_uri,),
                title="X",
                auth_method="client_secret_basic",
                grant_types=("authorization_code", "refresh_token"),
                token_lifetime=X_TOKEN_LIFETIME,
            )
        )

    def _add(self, client: Client) -> Client:
        self.clients[client.client_id] = client
        return client

    def mint(self, account: Account, expires_at: datetime, scope: str = "openid profile") -> str:
        """A token issued earlier (for the sources the demo starts with)."""
        token = secrets.token_urlsafe(32)
        self.tokens[token] = Token(account, scope, expires_at)
        return token

    def routes(self) -> list[Route]:
        return [
            Route("/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/token", self.token, methods=["POST"]),
            Route("/userinfo", self.userinfo, methods=["GET"]),
            Route("/organizations", self.organizations, methods=["GET"]),
            Route("/x/users/me", self.x_me, methods=["GET"]),
        ]

    async def _read(self, request: Request) -> _Request:
        form: list[tuple[str, str]] = []
        if request.method == "POST":  # forms here are url-encoded; no multipart parser needed
            form = parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True)
        return _Request(
            request.method,
            str(request.url),
            request.headers,  # case-insensitive, as authlib's "Authorization" lookups need
            list(request.query_params.multi_items()),
            form,
        )

    async def authorize(self, request: Request) -> Response:
        oauth_request = await self._read(request)
        try:
            grant = self.server.get_consent_grant(oauth_request)
        except OAuth2Error as error:
            return HTMLResponse(_error_page(error), status_code=400)
        if request.method == "GET":
            return HTMLResponse(_login_page(grant.client.title, str(request.url.query)))
        account = ACCOUNTS.get(oauth_request.form.get("account", ""))
        response: Response = self.server.create_authorization_response(
            oauth_request, grant_user=account, grant=grant
        )
        return response

    async def token(self, request: Request) -> Response:
        response: Response = self.server.create_token_response(await self._read(request))
        response.headers["Cache-Control"] = "no-store"
        return response

    def _bearer(self, request: Request) -> Token | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        token = self.tokens.get(value) if scheme.lower() == "bearer" else None
        if token is None or token.expires_at <= self.clock.now():
            return None
        return token

    async def userinfo(self, request: Request) -> Response:
        token = self._bearer(request)
        if token is None:
            return _unauthorized()
        return JSONResponse({"sub": token.account.sub, "name": token.account.name})

    async def x_me(self, request: Request) -> Response:
        """X's users/me."""
        token = self._bearer(request)
        if token is None:
            return JSONResponse({"title": "Unauthorized", "status": 401}, status_code=401)
        account = token.account
        return JSONResponse(
            {"data": {"id": account.sub, "name": account.name, "username": account.key}}
        )

    async def organizations(self, request: Request) -> Response:
        """LinkedIn's organizationalEntityAcls, decorated with names as its projection does."""
        token = self._bearer(request)
        if token is None:
            return _unauthorized()
        elements = [
            {
                "role": "ADMINISTRATOR",
                "state": "APPROVED",
                "roleAssignee": f"urn:li:person:{token.account.sub}",
                "organizationalTarget": f"urn:li:organization:{org_id}",
                "organizationalTarget~": {"localizedName": name},
            }
            for org_id, name in token.account.pages
        ]
        return JSONResponse({"elements": elements, "paging": {"count": len(elements)}})


def _new_id() -> str:
    return f"demo-{secrets.token_hex(4)}"


def _unauthorized() -> Response:
    body = {"message": "Invalid access token", "serviceErrorCode": 65600, "status": 401}
    return JSONResponse(body, status_code=401)


_PAGE_STYLE = """
body{margin:0;font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
background:#f3f2ef;color:#1d1d1d}
.bar{background:#fff;border-bottom:1px solid #ddd;padding:12px 24px;display:flex;gap:10px;
align-items:center}
.logo{background:#0a66c2;color:#fff;font-weight:700;border-radius:4px;padding:2px 7px}
.card{max-width:560px;margin:32px auto;background:#fff;border-radius:10px;padding:28px;
box-shadow:0 0 0 1px rgba(0,0,0,.08),0 4px 12px rgba(0,0,0,.06)}
h1{font-size:22px;margin:0 0 6px}
.note{color:#555;font-size:14px;margin:0 0 18px}
form{margin:0}
button.account{display:block;width:100%;text-align:left;background:#fff;border:1px solid #c9c9c9;
border-radius:8px;padding:12px 14px;margin:10px 0;cursor:pointer;font:inherit}
button.account:hover{border-color:#0a66c2;background:#f5f9fe}
.name{font-weight:600;font-size:16px}
.role{color:#555;font-size:13px;margin-top:3px}
.tag{display:inline-block;font-size:11px;font-weight:700;border-radius:10px;padding:1px 8px;
margin-left:6px;vertical-align:2px}
.right{background:#dff3e4;color:#1a6b32}.wrong{background:#fde7e7;color:#a01d1d}
.pages{background:#e8f0fb;color:#0a4a8c}
button.cancel{background:none;border:none;color:#0a66c2;cursor:pointer;font:inherit;
padding:8px 0}
"""

_TAGS = {
    "acme": ("right", "right account"),
    "jordan": ("wrong", "wrong account"),
    "sam": ("pages", "manages 2 pages"),
}


def _login_page(title: str, query: str) -> str:
    buttons = "".join(
        f'<button class="account" type="submit" name="account" value="{esc(a.key)}">'
        f'<div class="name">{esc(a.name)}<span class="tag {_TAGS[a.key][0]}">'
        f"{_TAGS[a.key][1]}</span></div>"
        f'<div class="role">{esc(a.role)}</div></button>'
        for a in ACCOUNTS.values()
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Sign in · demo {esc(title)}</title><style>{_PAGE_STYLE}</style></head><body>
<div class="bar"><span class="logo">demo</span><b>Demo network</b>
<span class="note" style="margin:0">standing in for {esc(title)}</span></div>
<div class="card"><h1>Sign in to let sources-bot connect</h1>
<p class="note">This is the demo's own sign-in page: no real {esc(title)} account is used and
nothing leaves this computer. Pick who you are signing in as.</p>
<form method="post" action="?{esc(query)}">{buttons}
<button class="cancel" type="submit" name="account" value="">Cancel</button></form>
</div></body></html>"""


def _error_page(error: OAuth2Error) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Demo network: sign-in refused</title><style>{_PAGE_STYLE}</style></head><body>
<div class="card"><h1>This sign-in request was refused</h1>
<p class="note">{esc(error.error)}: {esc(error.description or "")}</p></div></body></html>"""
