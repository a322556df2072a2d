"""The settings modal (bot/blocks/settings.py): valid for Slack in every shape, and read back."""

from __future__ import annotations

from typing import Any

from blockkit import assert_valid_view

from bot import ids
from bot.blocks.settings import MAX_OPTIONS, form_values, settings_modal
from bot.domain import UserGroup, WorkspaceSettings

NETWORKS = [
    ("linkedin", "LinkedIn"),
    ("x", "X"),
    ("facebook", "Facebook"),
    ("instagram", "Instagram"),
    ("youtube", "YouTube"),
    ("tiktok", "TikTok"),
    ("pinterest", "Pinterest"),
]


def blocks_by_id(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {block["block_id"]: block for block in view["blocks"] if "block_id" in block}


def test_without_user_groups_no_group_can_be_chosen() -> None:
    view = settings_modal(WorkspaceSettings(notify_channel=None), NETWORKS, [])
    assert_valid_view(view)
    blocks = blocks_by_id(view)
    assert ids.CONNECT_GROUP not in blocks and ids.SETTINGS_GROUP not in blocks
    roles = [o["value"] for o in blocks[ids.CONNECT_ROLE]["element"]["options"]]
    assert roles == ["everyone", "admins"]
    assert "initial_conversation" not in blocks[ids.NOTIFY_CHANNEL]["element"]
    assert "no user groups" in str(view["blocks"])


def test_every_network_and_many_groups_fit_slacks_limits() -> None:
    groups = [UserGroup(f"S{n:04d}", f"group-{n}", f"Group {n}") for n in range(250)]
    current = WorkspaceSettings(
        notify_channel="C1",
        network_channels={"x": "C2"},
        digest_hour=17,
        digest_timezone="Europe/Paris",
        digest_days="weekdays",
        warning_days=(14, 3),
        connect_role="group",
        connect_group="S0003",
        settings_role="group",
        settings_group="S9999",  # deleted meanwhile: no initial option
    )
    view = settings_modal(current, NETWORKS, groups)
    assert_valid_view(view)
    blocks = blocks_by_id(view)
    assert len(blocks[ids.CONNECT_GROUP]["element"]["options"]) == MAX_OPTIONS
    assert blocks[ids.CONNECT_GROUP]["element"]["initial_option"]["value"] == "S0003"
    assert "initial_option" not in blocks[ids.SETTINGS_GROUP]["element"]
    assert blocks[ids.network_field("x")]["element"]["initial_conversation"] == "C2"
    assert blocks[ids.DIGEST_DAYS_FIELD]["element"]["initial_option"]["value"] == "weekdays"
    assert blocks[ids.WARNING_DAYS]["element"]["initial_value"] == "14,3"


def test_what_slack_sends_back_is_read_field_by_field() -> None:
    state = {
        ids.NOTIFY_CHANNEL: {
            ids.NOTIFY_CHANNEL: {"type": "conversations_select", "selected_conversation": "C1"}
        },
        ids.network_field("x"): {
            ids.network_field("x"): {"type": "conversations_select", "selected_conversation": None}
        },
        ids.DIGEST_HOUR: {
            ids.DIGEST_HOUR: {"type": "static_select", "selected_option": {"value": "7"}}
        },
        ids.CONNECT_GROUP: {ids.CONNECT_GROUP: {"type": "static_select", "selected_option": None}},
        ids.DIGEST_DAYS_FIELD: {
            ids.DIGEST_DAYS_FIELD: {"type": "radio_buttons", "selected_option": {"value": "daily"}}
        },
        ids.WARNING_DAYS: {ids.WARNING_DAYS: {"type": "plain_text_input", "value": " 7,1 "}},
    }
    assert form_values(state) == {
        ids.NOTIFY_CHANNEL: "C1",
        ids.network_field("x"): None,
        ids.DIGEST_HOUR: "7",
        ids.CONNECT_GROUP: None,
        ids.DIGEST_DAYS_FIELD: "daily",
        ids.WARNING_DAYS: " 7,1 ",
    }
