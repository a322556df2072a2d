"""The bot's side of a network's OAuth: authorization URL, code exchange, renewal, identity.

authlib does the protocol; :func:`bot.oauth.errors.check_response` reads every answer, so
each call either returns domain values or raises one of the bot's error kinds. Every call that
asks the network and fails is counted once, by network and kind (``transient``, ``rejected``),
in ``sources_bot_network_api_errors``.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client

from bot.domain import Identity, Page, TokenSet
from bot.metrics import Metrics
from bot.networks import Network
from bot.networks.catalogue import Renewal
from bot.oauth import quirks
from bot.oauth.errors import (
    CredentialRejected,
    NetworkError,
    TimedOut,
    TransientError,
    check_response,
)
from bot.oauth.transport import SharedTransport

TIMEOUT = httpx2.Timeout(10.0)

P = ParamSpec("P")
R = TypeVar("R")


def _counted(
    call: Callable[Concatenate[OAuthClient, P], Awaitable[R]],
) -> Callable[Concatenate[OAuthClient, P], Awaitable[R]]:
    """A call that asks the network: its failure is counted by network and kind."""

    @functools.wraps(call)
    async def counted(self: OAuthClient, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await call(self, *args, **kwargs)
        except NetworkError as err:
            kind = "rejected" if isinstance(err, CredentialRejected) else "transient"
            self.metrics.network_errors.labels(network=self.network.name, kind=kind).inc()
            raise

    return counted


class OAuthClient:
    """OAuth calls for one network; a fresh HTTP client per call keeps no state between them.
    The services build theirs with :meth:`bot.services.context.Context.oauth`.

    With ``transport`` (a process's :class:`SharedTransport`) those clients share its
    connections; without one each call opens its own, which costs a TLS context per call.
    """

    def __init__(
        self,
        network: Network,
        redirect_uri: str,
        pages: bool = False,
        transport: SharedTransport | None = None,
        *,
        metrics: Metrics,
    ) -> None:
        self.network = network
        self.redirect_uri = redirect_uri
        self.pages_scope = pages
        self.transport = transport
        self.metrics = metrics

    def _oauth(self) -> AsyncOAuth2Client:
        network = self.network

        def check(response: httpx2.Response) -> httpx2.Response:
            check_response(network.title, response)
            return response

        client = AsyncOAuth2Client(
            client_id=network.client_id,
            client_secret=network.client_secret,
            token_endpoint_auth_method=network.client_auth,
            scope=network.scope(self.pages_scope),
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256" if network.pkce else None,
            # The bot decides expiry from the stored expires_at, not authlib's 60 s margin.
            leeway=0,
            timeout=TIMEOUT,
            transport=self.transport,
        )
        client.register_client_auth_method(("client_key_post", quirks.encode_client_key_post))
        client.register_compliance_hook("access_token_response", check)
        client.register_compliance_hook("refresh_token_response", check)
        return client

    @asynccontextmanager
    async def _http(self) -> AsyncIterator[httpx2.AsyncClient]:
        """A plain client; transport failures become TransientError."""
        try:
            async with httpx2.AsyncClient(timeout=TIMEOUT, transport=self.transport) as client:
                yield client
        except httpx2.TransportError as err:
            raise self._unreachable(err) from err

    def authorization_url(self, state: str, code_verifier: str | None) -> str:
        url, _ = self._oauth().create_authorization_url(
            self.network.authorize_url,
            state=state,
            code_verifier=code_verifier,
            **self.network.authorize_params,
        )
        if self.network.client_auth == "client_key_post":
            url = quirks.tiktok_authorize_url(url)
        return str(url)

    @_counted
    async def exchange(self, code: str, code_verifier: str | None, now: datetime) -> TokenSet:
        """Trade an authorization code for tokens (long-lived ones where the network has them)."""
        # Facebook's token endpoint is a GET that takes the secret in its query string.
        secret = (
            {"client_secret": self.network.client_secret}
            if self.network.token_method == "GET"  # noqa: S105 - an HTTP method
            else {}
        )
        token = await self._grant(
            lambda client: client.fetch_token(
                self.network.token_url,
                code=code,
                code_verifier=code_verifier,
                method=self.network.token_method,
                **secret,
            )
        )
        if self.network.renewal is Renewal.FB_EXCHANGE_TOKEN:
            async with self._http() as http:
                token = await quirks.facebook_exchange(http, self.network, token["access_token"])
        elif self.network.renewal is Renewal.IG_REFRESH_TOKEN:
            short_lived = quirks.instagram_unwrap(token)["access_token"]
            async with self._http() as http:
                token = await quirks.instagram_long_lived(http, self.network, short_lived)
        return self._token_set(token, now)

    async def renew(self, current: TokenSet, now: datetime) -> TokenSet:
        """New tokens without a person. The refresh token that comes back is kept; the old one
        only when none came back."""
        # Refused without asking the network: not one of the network's errors.
        if self.network.renewal is Renewal.NONE:
            raise CredentialRejected(f"{self.network.title} connections cannot be renewed")
        if self.network.renewal is Renewal.REFRESH_TOKEN and not current.refresh_token:
            raise CredentialRejected(f"{self.network.title}: no refresh token to renew with")
        return await self._renew(current, now)

    @_counted
    async def _renew(self, current: TokenSet, now: datetime) -> TokenSet:
        if self.network.renewal is Renewal.REFRESH_TOKEN:
            assert current.refresh_token
            token = await self._grant(
                lambda client: client.refresh_token(
                    self.network.token_url,
                    refresh_token=current.refresh_token,
                    **self.network.refresh_params,
                )
            )
        elif self.network.renewal is Renewal.FB_EXCHANGE_TOKEN:
            async with self._http() as http:
                token = await quirks.facebook_exchange(http, self.network, current.access_token)
        elif self.network.renewal is Renewal.IG_REFRESH_TOKEN:
            async with self._http() as http:
                token = await quirks.instagram_refresh(http, self.network, current.access_token)
        else:
            raise AssertionError(self.network.renewal)  # renew() refused Renewal.NONE
        renewed = self._token_set(token, now)
        if renewed.refresh_token is None and current.refresh_token is not None:
            renewed = replace(
                renewed,
                refresh_token=current.refresh_token,
                refresh_expires_at=current.refresh_expires_at,
            )
        return renewed

    @_counted
    async def identity(self, access_token: str) -> Identity:
        """Who the token belongs to; CredentialRejected when the network refuses the token."""
        async with self._http() as http:
            response = await http.get(
                self.network.userinfo_url, headers={"Authorization": f"Bearer {access_token}"}
            )
        check_response(self.network.title, response)
        try:
            data = response.json()
            account_id = _field(data, self.network.account_id_field)
            name = _field(data, self.network.name_field)
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise TransientError(
                f"{self.network.title} gave an unexpected identity answer"
            ) from err
        return Identity(account_id=str(account_id), name=str(name or account_id))

    @_counted
    async def pages(self, access_token: str) -> list[Page]:
        """The pages, organizations or channels this token reaches."""
        lister = quirks.PAGE_LISTERS.get(self.network.name)
        if lister is None:
            return []
        async with self._http() as http:
            try:
                return await lister(http, self.network, access_token)
            except (ValueError, KeyError, TypeError) as err:
                raise TransientError(f"{self.network.title} gave an unexpected page list") from err

    async def _grant(self, call: Any) -> dict[str, Any]:
        try:
            async with self._oauth() as client:
                token = await call(client)
        except NetworkError:
            raise
        except httpx2.TransportError as err:
            raise self._unreachable(err) from err
        except (OAuthError, httpx2.HTTPStatusError, ValueError) as err:
            # authlib's reading of the answer: an error it names, or a body that is not a JSON
            # object. Anything else raised here is a bug, and must not pass for the network's.
            raise TransientError(f"{self.network.title} gave an unreadable answer") from err
        return dict(token)

    def _unreachable(self, err: httpx2.TransportError) -> TransientError:
        if isinstance(err, httpx2.TimeoutException):
            return TimedOut(f"{self.network.title} did not answer in time")
        return TransientError(f"{self.network.title} could not be reached")

    def _token_set(self, token: dict[str, Any], now: datetime) -> TokenSet:
        if not token.get("access_token"):
            raise TransientError(f"{self.network.title} answered without an access token")
        expires_in = token.get("expires_in")
        if expires_in:
            expires_at: datetime | None = now + timedelta(seconds=int(expires_in))
        elif self.network.access_token_lifetime:
            expires_at = now + self.network.access_token_lifetime
        else:
            expires_at = None
        scope = token.get("scope")
        refresh_token = token.get("refresh_token") or None
        return TokenSet(
            access_token=str(token["access_token"]),
            refresh_token=refresh_token,
            expires_at=expires_at,
            scopes=" ".join(scope) if isinstance(scope, list) else scope,
            refresh_expires_at=self._refresh_expiry(token, now) if refresh_token else None,
        )

    def _refresh_expiry(self, token: dict[str, Any], now: datetime) -> datetime | None:
        """When the refresh token dies, where the network says so (in seconds from now)."""
        field = self.network.refresh_expires_field
        seconds = token.get(field) if field else None
        try:
            return now + timedelta(seconds=int(seconds)) if seconds else None
        except (TypeError, ValueError):  # an odd value is not worth failing a connect for
            return None


def _field(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data
