"""Load the catalogue file and apply the operator's per-network settings to it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from bot.config import NetworkCredentials, Settings


@dataclass(frozen=True)
class Network:
    """One network's OAuth endpoints and token facts, with the operator's credentials applied."""

    name: str
    title: str
    authorize_url: str
    token_url: str
    userinfo_url: str
    scopes: tuple[str, ...]
    scope_separator: str
    token_endpoint_auth_method: str
    pkce: bool
    access_token_days: int | None
    renewal: str
    account_id_field: str
    name_field: str
    developer_console: str = ""
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)

    @property
    def scope(self) -> str:
        return self.scope_separator.join(self.scopes)

    def with_credentials(self, creds: NetworkCredentials) -> Network:
        return replace(
            self,
            client_id=creds.client_id,
            client_secret=creds.client_secret,
            authorize_url=creds.authorize_url or self.authorize_url,
            token_url=creds.token_url or self.token_url,
            userinfo_url=creds.userinfo_url or self.userinfo_url,
        )


class Catalogue:
    """The networks the bot knows, in catalogue order."""

    def __init__(self, networks: list[Network]) -> None:
        self._networks = {network.name: network for network in networks}

    def __iter__(self) -> Iterator[Network]:
        return iter(self._networks.values())

    def __contains__(self, name: object) -> bool:
        return name in self._networks

    def get(self, name: str) -> Network | None:
        return self._networks.get(name.lower())

    def names(self) -> list[str]:
        return list(self._networks)

    def title(self, name: str) -> str:
        network = self.get(name)
        return network.title if network else name


def parse_catalogue(data: Mapping[str, Mapping[str, Any]]) -> list[Network]:
    return [
        Network(
            name=name,
            title=entry["title"],
            authorize_url=entry["authorize_url"],
            token_url=entry["token_url"],
            userinfo_url=entry["userinfo_url"],
            scopes=tuple(entry["scopes"]),
            scope_separator=entry.get("scope_separator", " "),
            token_endpoint_auth_method=entry.get(
                "token_endpoint_auth_method", "client_secret_post"
            ),
            pkce=bool(entry.get("pkce", False)),
            access_token_days=entry.get("access_token_days"),
            renewal=entry.get("renewal", "none"),
            account_id_field=entry["identity"]["account_id"],
            name_field=entry["identity"]["name"],
            developer_console=entry.get("developer_console", ""),
        )
        for name, entry in data.items()
    ]


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
