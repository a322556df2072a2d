"""The App Home tab (bot/blocks/home.py)."""

from __future__ import annotations

from typing import Any

import pytest
from blockkit import assert_valid_view
from sample_sources import (
    NOW,
    all_text,
    buttons,
    context_texts,
    many_sources,
    more_count,
    reconnect_values,
    section_texts,
    source,
    stray_angle_brackets,
)

from bot import ids
from bot.blocks.base import SECTION_TEXT_LIMIT
from bot.blocks.home import MAX_HOME_BLOCKS, HomeSettings, home_view
from bot.config import Settings
from bot.domain import Status
from bot.networks import Network, load_catalogue

CONFIGURED = {"LINKEDIN_CLIENT_ID": "id", "LINKEDIN_CLIENT_SECRET": "secret"}
NO_CHANNEL = HomeSettings(notify_channel=None, digest_hour=9, digest_timezone="UTC")
WITH_CHANNEL = HomeSettings(notify_channel="C123", digest_hour=7, digest_timezone="Europe/Paris")


def networks(env: dict[str, str] | None = None) -> list[Network]:
    return list(load_catalogue(Settings.from_env(CONFIGURED if env is None else env)))


def connect_buttons(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The Connect buttons (the Home also has Settings, and Try again when deliveries fail)."""
    return [b for b in buttons(view["blocks"]) if b["action_id"].startswith(ids.CONNECT_NETWORK)]


def settings_select(view: dict[str, Any]) -> dict[str, Any]:
    (block,) = [b for b in view["blocks"] if b.get("block_id") == "settings"]
    return dict(block["accessory"])


def test_empty_home_invites_the_first_connection() -> None:
    view = home_view([], networks(), NO_CHANNEL, NOW)

    assert_valid_view(view)
    assert view["type"] == "home"
    assert view["blocks"][0]["text"]["text"] == "Sources"
    assert "No sources yet. Connect your team's first account below." in section_texts(
        view["blocks"]
    )
    (connect,) = connect_buttons(view)
    assert connect["text"]["text"] == "Connect LinkedIn"
    assert connect["action_id"] == f"{ids.CONNECT_NETWORK}:linkedin"
    assert connect["value"] == "linkedin"


def test_unconfigured_networks_explain_what_the_operator_sets() -> None:
    view = home_view([], networks({}), NO_CHANNEL, NOW)

    assert_valid_view(view)
    assert connect_buttons(view) == []
    assert any("LINKEDIN_CLIENT_ID" in text for text in context_texts(view["blocks"]))


def test_settings_without_a_channel_ask_for_one() -> None:
    view = home_view([], networks(), NO_CHANNEL, NOW)

    select = settings_select(view)
    assert select["type"] == "conversations_select"
    assert select["action_id"] == ids.SET_NOTIFY_CHANNEL
    assert "initial_conversation" not in select
    assert any("No channel is set" in text for text in section_texts(view["blocks"]))
    assert "Daily digest at 09:00 UTC." in context_texts(view["blocks"])


def test_settings_with_a_channel_show_it() -> None:
    view = home_view([], networks(), WITH_CHANNEL, NOW)

    assert settings_select(view)["initial_conversation"] == "C123"
    assert "Notices and the daily digest go to <#C123>." in section_texts(view["blocks"])
    assert context_texts(view["blocks"])[-1] == "Daily digest at 07:00 Europe/Paris."


@pytest.mark.parametrize(
    ("statuses", "banner"),
    [
        ((Status.EXPIRED, Status.ACTIVE), ":lock: *1 source has stopped working.*"),
        ((Status.EXPIRED, Status.REVOKED), ":lock: *2 sources have stopped working.*"),
    ],
)
def test_banner_counts_broken_sources(statuses: tuple[Status, ...], banner: str) -> None:
    sources = [source(status, id=i) for i, status in enumerate(statuses, start=1)]

    view = home_view(sources, networks(), WITH_CHANNEL, NOW)

    assert_valid_view(view)
    assert section_texts(view["blocks"])[0].startswith(banner)
    broken = [str(s.id) for s in sources if s.status.needs_reconnect]
    assert sorted(reconnect_values(view["blocks"])) == broken


def test_all_working_banner() -> None:
    sources = [source(Status.ACTIVE, name="A"), source(Status.EXPIRING, name="B")]

    view = home_view(sources, networks(), WITH_CHANNEL, NOW)

    assert section_texts(view["blocks"])[0] == ":white_check_mark: All 2 sources are working."
    text = all_text(view["blocks"])
    assert ":alarm_clock: *LinkedIn · B* — expires in 3 days" in text
    assert ":white_check_mark: LinkedIn · A — valid until 27 Jan" in text


def test_five_hundred_sources_fit_and_settings_stay_at_the_end() -> None:
    sources = many_sources(500)

    view = home_view(sources, networks(), WITH_CHANNEL, NOW)

    assert_valid_view(view)
    blocks = view["blocks"]
    assert len(blocks) <= MAX_HOME_BLOCKS
    assert all(len(text) <= SECTION_TEXT_LIMIT for text in section_texts(blocks))
    assert blocks[-2].get("block_id") == "settings"
    broken = sum(1 for s in sources if s.status.needs_reconnect)
    assert section_texts(blocks)[0].startswith(f":lock: *{broken} sources have stopped working.*")
    more = [text for text in context_texts(blocks) if "more source" in text]
    assert len(more) == 1
    healthy_lines = [
        line
        for block in blocks
        if block["type"] == "section" and "accessory" not in block
        for line in block["text"]["text"].split("\n")
        if line.startswith(":white_check_mark: LinkedIn")
    ]
    shown = len(reconnect_values(blocks)) + len(healthy_lines)
    assert shown + more_count(more[0]) == 500


def test_placeholders_survive_slack_mrkdwn() -> None:
    unconfigured = home_view([], networks({}), NO_CHANNEL, NOW)
    crowded = home_view(many_sources(500), networks(), NO_CHANNEL, NOW)

    for view in (unconfigured, crowded):
        assert stray_angle_brackets(all_text(view["blocks"])) == []
