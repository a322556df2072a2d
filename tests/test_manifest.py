"""manifest.yml agrees with the ids the bot uses and asks for no more than it needs.

Schema validation against Slack's manifest schema happens in .ci/run (the schema lives in
../shared, which a fresh clone of this repository does not have).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import ids
from bot.web.install import BOT_SCOPES, REDIRECT_PATH

MANIFEST_PATH = Path(__file__).resolve().parent.parent / "manifest.yml"
SOCKET_MODE_PATH = MANIFEST_PATH.with_name("manifest.socket-mode.yml")
# Each scope, and the one call (or surface) it is there for.
EXPECTED_BOT_SCOPES = {
    "commands",  # /sources
    "chat:write",  # notices, digests, replies, DMs
    "chat:write.public",  # SLACK_NOTIFY_CHANNEL, a public channel nobody invited the bot to
    "channels:join",  # conversations.join of a public channel chosen in the settings
    "channels:read",  # conversations.info of a public channel chosen in the settings
    "groups:read",  # conversations.info of a private channel chosen in the settings
    "users:read",  # users.info: admins and owners (roles), the installer's time zone
    "usergroups:read",  # usergroups.list (settings) and usergroups.users.list (roles)
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    with MANIFEST_PATH.open(encoding="utf-8") as f:
        data = yaml.safe_load(f)
    assert isinstance(data, dict)
    return data


def _slash_commands(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    commands = manifest.get("features", {}).get("slash_commands", [])
    assert isinstance(commands, list)
    return commands


def _bot_events(manifest: dict[str, Any]) -> list[str]:
    events = manifest.get("settings", {}).get("event_subscriptions", {}).get("bot_events", [])
    assert isinstance(events, list)
    return events


def test_slash_commands_are_the_bots_command(manifest: dict[str, Any]) -> None:
    commands = [c["command"] for c in _slash_commands(manifest)]
    assert commands == [ids.COMMAND]


def test_bot_events_are_known(manifest: dict[str, Any]) -> None:
    events = _bot_events(manifest)
    assert events, "the manifest subscribes to no bot events"
    assert len(events) == len(set(events)), f"duplicate bot events: {events}"
    unknown = set(events) - set(ids.EVENTS)
    assert not unknown, f"bot events missing from bot.ids.EVENTS: {sorted(unknown)}"


def test_request_urls_point_at_bolt_endpoint(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    urls = {
        "settings.event_subscriptions.request_url": settings["event_subscriptions"]["request_url"],
        "settings.interactivity.request_url": settings["interactivity"]["request_url"],
    }
    for command in _slash_commands(manifest):
        urls[f"features.slash_commands[{command['command']}].url"] = command["url"]
    for where, url in urls.items():
        assert isinstance(url, str), where
        assert url.startswith("https://"), f"{where} is not https: {url}"
        assert url.endswith("/slack/events"), f"{where} does not end with /slack/events: {url}"
    assert settings["interactivity"]["is_enabled"] is True


def test_bot_scopes_are_exactly_what_the_bot_needs(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]
    bot_scopes = scopes["bot"]
    assert len(bot_scopes) == len(set(bot_scopes)), f"duplicate bot scopes: {bot_scopes}"
    assert set(bot_scopes) == EXPECTED_BOT_SCOPES
    assert not scopes.get("user"), "the bot needs no user scopes"
    # The install asks Slack for exactly these, in the manifest's order.
    assert list(BOT_SCOPES) == bot_scopes


def test_install_comes_back_to_the_redirect_route(manifest: dict[str, Any]) -> None:
    (url,) = manifest["oauth_config"]["redirect_urls"]
    assert url.startswith("https://") and url.endswith(REDIRECT_PATH)


def test_the_socket_mode_manifest_is_the_same_app_without_request_urls(
    manifest: dict[str, Any],
) -> None:
    with SOCKET_MODE_PATH.open(encoding="utf-8") as f:
        socket = yaml.safe_load(f)
    assert socket["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert "request_url" not in socket["settings"]["event_subscriptions"]
    assert "request_url" not in socket["settings"]["interactivity"]
    assert all("url" not in command for command in socket["features"]["slash_commands"])
    assert socket["oauth_config"]["scopes"] == manifest["oauth_config"]["scopes"]
    assert _bot_events(socket) == _bot_events(manifest)
    assert [c["command"] for c in _slash_commands(socket)] == [ids.COMMAND]
