"""The network catalogue (bot/networks): bundled data plus the operator's settings."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import ConfigError, Settings
from bot.networks import load_catalogue

LINKEDIN_ENV = {
    "LINKEDIN_CLIENT_ID": "li-id",
    "LINKEDIN_CLIENT_SECRET": "li-secret",
}


def test_bundled_linkedin_uses_openid_connect() -> None:
    linkedin = load_catalogue(Settings.from_env({})).get("linkedin")

    assert linkedin is not None
    assert linkedin.title == "LinkedIn"
    assert linkedin.authorize_url == "https://www.linkedin.com/oauth/v2/authorization"
    assert linkedin.token_url == "https://www.linkedin.com/oauth/v2/accessToken"
    assert linkedin.userinfo_url == "https://api.linkedin.com/v2/userinfo"
    assert {"openid", "profile"} <= set(linkedin.scopes)
    assert linkedin.scope().split(linkedin.scope_separator) == list(linkedin.scopes)
    assert (linkedin.account_id_field, linkedin.name_field) == ("sub", "name")


def test_every_bundled_network_has_the_endpoints_a_connect_needs() -> None:
    catalogue = load_catalogue(Settings.from_env({}))

    assert "linkedin" in catalogue.names()
    for network in catalogue:
        for url in (network.authorize_url, network.token_url, network.userinfo_url):
            assert url.startswith("https://"), (network.name, url)
        assert network.title
        assert network.scopes, network.name
        assert network.name == network.name.lower()


def test_without_credentials_nothing_is_configured() -> None:
    catalogue = load_catalogue(Settings.from_env({}))

    assert [network.name for network in catalogue if network.configured] == []
    linkedin = catalogue.get("linkedin")
    assert linkedin is not None
    assert linkedin.client_id is None


def test_credentials_from_settings_configure_one_network() -> None:
    catalogue = load_catalogue(Settings.from_env(LINKEDIN_ENV))

    linkedin = catalogue.get("linkedin")
    assert linkedin is not None
    assert linkedin.configured is True
    assert (linkedin.client_id, linkedin.client_secret) == ("li-id", "li-secret")
    assert [network.name for network in catalogue if network.configured] == ["linkedin"]
    assert "li-secret" not in repr(linkedin)


def test_a_client_id_alone_is_refused_naming_both_variables() -> None:
    with pytest.raises(ConfigError, match="LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET"):
        load_catalogue(Settings.from_env({"LINKEDIN_CLIENT_ID": "li-id"}))


def test_endpoint_overrides_apply_and_the_rest_stay() -> None:
    settings = Settings.from_env(
        {
            **LINKEDIN_ENV,
            "LINKEDIN_TOKEN_URL": "http://127.0.0.1:8765/token",
            "LINKEDIN_USERINFO_URL": "http://127.0.0.1:8765/userinfo",
        }
    )

    linkedin = load_catalogue(settings).get("linkedin")

    assert linkedin is not None
    assert linkedin.token_url == "http://127.0.0.1:8765/token"
    assert linkedin.userinfo_url == "http://127.0.0.1:8765/userinfo"
    assert linkedin.authorize_url == "https://www.linkedin.com/oauth/v2/authorization"


def test_overrides_for_one_network_leave_the_others_alone() -> None:
    plain = load_catalogue(Settings.from_env({}))
    overridden = load_catalogue(Settings.from_env({"LINKEDIN_TOKEN_URL": "http://fake/token"}))

    for network in overridden:
        if network.name != "linkedin":
            original = plain.get(network.name)
            assert original is not None
            assert network.token_url == original.token_url


def test_lookup_and_titles() -> None:
    catalogue = load_catalogue(Settings.from_env({}))

    linkedin = catalogue.get("LinkedIn")
    assert linkedin is not None
    assert linkedin.name == "linkedin"
    assert catalogue.title("linkedin") == "LinkedIn"
    assert catalogue.get("myspace") is None
    assert catalogue.title("myspace") == "myspace"
    assert "myspace" not in catalogue


MINIMAL: dict[str, Any] = {
    "urls": {
        "authorize": "https://example.test/authorize",
        "token": "https://example.test/token",
        "userinfo": "https://example.test/me",
    },
    "scopes": ["read"],
    "identity": {"account_id": "id", "name": "name"},
}


@pytest.mark.parametrize("configured", [True, False])
def test_a_custom_catalogue_gets_credentials_by_name(configured: bool) -> None:
    env = {"ACME_CLIENT_ID": "a", "ACME_CLIENT_SECRET": "b"} if configured else {}
    data = {"acme": {"title": "Acme Social", **MINIMAL}, "other": {"title": "Other", **MINIMAL}}

    catalogue = load_catalogue(Settings.from_env(env), data)

    assert catalogue.names() == ["acme", "other"]
    acme, other = list(catalogue)
    assert acme.title == "Acme Social"
    assert acme.configured is configured
    assert other.configured is False
    assert acme.scope() == "read"
