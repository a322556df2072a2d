"""The bot's side of a network's OAuth: authorization URL, code exchange, identity.

authlib does the protocol; this module maps its answers and httpx2's failures onto
the bot's error kinds (bot.oauth.errors) and domain values.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from bot.domain import Identity, TokenSet
from bot.networks import Network
from bot.oauth.errors import CredentialRejected, TransientError

TIMEOUT = httpx2.Timeout(10.0)


class OAuthClient:
    """OAuth calls for one network; every call uses a fresh authlib client (they are cheap)."""

    def __init__(self, network: Network, redirect_uri: str) -> None:
        self.network = network
        self.redirect_uri = redirect_uri

    def _client(self) -> AsyncOAuth2Client:
        client = AsyncOAuth2Client(
            client_id=self.network.client_id,
            client_secret=self.network.client_secret,
            token_endpoint_auth_method=self.network.token_endpoint_auth_method,
            scope=self.network.scope,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256" if self.network.pkce else None,
            # The bot decides expiry from the stored expires_at, not authlib's 60 s margin.
            leeway=0,
            timeout=TIMEOUT,
        )
        client.register_compliance_hook("access_token_response", _raise_for_transient)
        return client

    def authorization_url(self, state: str, code_verifier: str | None) -> str:
        client = self._client()
        url, _ = client.create_authorization_url(
            self.network.authorize_url, state=state, code_verifier=code_verifier
        )
        return str(url)

    async def exchange(self, code: str, code_verifier: str | None, now: datetime) -> TokenSet:
        """Trade an authorization code for tokens."""
        async with self._client() as client:
            try:
                token = await client.fetch_token(
                    self.network.token_url, code=code, code_verifier=code_verifier
                )
            except OAuthError as err:
                raise CredentialRejected(
                    f"{self.network.title} refused the sign-in ({err.error})"
                ) from err
            except httpx2.TransportError as err:
                raise TransientError(f"{self.network.title} could not be reached") from err
            except ValueError as err:  # a body that is not JSON
                raise TransientError(f"{self.network.title} gave an unreadable answer") from err
        return _token_set(dict(token), now, self.network)

    async def identity(self, access_token: str) -> Identity:
        """Who the token belongs to; CredentialRejected when the network refuses the token."""
        try:
            async with httpx2.AsyncClient(timeout=TIMEOUT) as client:
                response = await client.get(
                    self.network.userinfo_url,
                    headers={"Authorization": f"Bearer {access_token}"},
                )
        except httpx2.TransportError as err:
            raise TransientError(f"{self.network.title} could not be reached") from err
        if response.status_code in (401, 403):
            raise CredentialRejected(f"{self.network.title} rejected the connection")
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(
                f"{self.network.title} is not answering (HTTP {response.status_code})"
            )
        try:
            response.raise_for_status()
            data = response.json()
            account_id = _field(data, self.network.account_id_field)
            name = _field(data, self.network.name_field)
        except (httpx2.HTTPStatusError, ValueError, KeyError) as err:
            raise TransientError(
                f"{self.network.title} gave an unexpected identity answer"
            ) from err
        return Identity(account_id=str(account_id), name=str(name or account_id))


def _raise_for_transient(response: httpx2.Response) -> httpx2.Response:
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientError(f"the token endpoint answered HTTP {response.status_code}")
    return response


def _field(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[part]
    return data


def _token_set(token: dict[str, Any], now: datetime, network: Network) -> TokenSet:
    expires_in = token.get("expires_in")
    if expires_in is not None:
        expires_at: datetime | None = now + timedelta(seconds=int(expires_in))
    elif network.access_token_days:
        expires_at = now + timedelta(days=network.access_token_days)
    else:
        expires_at = None
    scope = token.get("scope")
    return TokenSet(
        access_token=str(token["access_token"]),
        refresh_token=token.get("refresh_token"),
        expires_at=expires_at,
        scopes=" ".join(scope) if isinstance(scope, list) else scope,
    )
