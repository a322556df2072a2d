"""Load the catalogue file and apply the operator's per-network settings to it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from importlib import resources
from typing import Any

from bot.config import NetworkCredentials, Settings


class Renewal(StrEnum):
    """How a network's tokens are renewed without a person."""

    NONE = "none"
    REFRESH_TOKEN = "refresh_token"  # RFC 6749 refresh grant; needs a stored refresh token
    FB_EXCHANGE_TOKEN = "fb_exchange_token"  # Facebook: exchange the live token for a new one
    IG_REFRESH_TOKEN = "ig_refresh_token"  # Instagram: refresh a live token at least a day old


@dataclass(frozen=True)
class Network:
    """One network's OAuth endpoints and token facts, with the operator's credentials applied."""

    name: str
    title: str
    urls: Mapping[str, str]
    scopes: tuple[str, ...]
    scope_separator: str
    client_auth: str
    pkce: bool
    access_token_lifetime: timedelta | None
    renewal: Renewal
    renew_before: timedelta
    account_id_field: str
    name_field: str
    token_method: str = "POST"
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    refresh_params: Mapping[str, str] = field(default_factory=dict)
    page_kind: str | None = None
    page_scopes: tuple[str, ...] = ()  # asked for when (re)connecting a page source
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)

    def scope(self, pages: bool = False) -> str:
        scopes = self.scopes + (self.page_scopes if pages else ())
        return self.scope_separator.join(scopes)

    def url(self, key: str) -> str:
        return self.urls[key]

    @property
    def authorize_url(self) -> str:
        return self.urls["authorize"]

    @property
    def token_url(self) -> str:
        return self.urls["token"]

    @property
    def userinfo_url(self) -> str:
        return self.urls["userinfo"]

    def can_renew(self, has_refresh_token: bool) -> bool:
        """Whether a credential of this network can be renewed by the bot alone."""
        if self.renewal is Renewal.REFRESH_TOKEN:
            return has_refresh_token
        return self.renewal is not Renewal.NONE

    def with_credentials(self, creds: NetworkCredentials) -> Network:
        return replace(
            self,
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            urls={**self.urls, **creds.urls},
        )


class Catalogue:
    """The networks the bot knows, in catalogue order."""

    def __init__(self, networks: list[Network]) -> None:
        self._networks = {network.name: network for network in networks}

    def __iter__(self) -> Iterator[Network]:
        return iter(self._networks.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._networks

    def __getitem__(self, name: str) -> Network:
        return self._networks[name.lower()]

    def get(self, name: str) -> Network | None:
        return self._networks.get(name.lower())

    def names(self) -> list[str]:
        return list(self._networks)

    def configured(self) -> frozenset[str]:
        """The networks whose apps the operator configured (their sources can renew)."""
        return frozenset(name for name, network in self._networks.items() if network.configured)

    def title(self, name: str) -> str:
        network = self.get(name)
        return network.title if network else name


def parse_catalogue(data: Mapping[str, Mapping[str, Any]]) -> list[Network]:
    networks = []
    for name, entry in data.items():
        lifetime = entry.get("access_token_seconds")
        networks.append(
            Network(
                name=name,
                title=entry["title"],
                urls=dict(entry["urls"]),
                scopes=tuple(entry["scopes"]),
                scope_separator=entry.get("scope_separator", " "),
                client_auth=entry.get("client_auth", "client_secret_post"),
                pkce=bool(entry.get("pkce", False)),
                access_token_lifetime=timedelta(seconds=lifetime) if lifetime else None,
                renewal=Renewal(entry.get("renewal", "none")),
                renew_before=timedelta(seconds=entry.get("renew_before_seconds", 0)),
                account_id_field=entry["identity"]["account_id"],
                name_field=entry["identity"]["name"],
                token_method=entry.get("token_method", "POST"),
                authorize_params=dict(entry.get("authorize_params", {})),
                refresh_params=dict(entry.get("refresh_params", {})),
                page_kind=entry.get("page_kind"),
                page_scopes=tuple(entry.get("page_scopes", ())),
            )
        )
    return networks


def load_catalogue(
    settings: Settings, data: Mapping[str, Mapping[str, Any]] | None = None
) -> Catalogue:
    """The bundled catalogue (or ``data``), with each network's env credentials and overrides."""
    if data is None:
        text = resources.files("bot.networks").joinpath("catalogue.json").read_text()
        data = json.loads(text)
    return Catalogue(
        [
            network.with_credentials(settings.network(network.name))
            for network in parse_catalogue(data)
        ]
    )
