"""Settings per workspace, in the modal: each field checked, channels checked with Slack, and
what the settings change (where notices go, what "expiring soon" means, the digest's days,
the renewal failure budget)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx2
import pytest
from conftest import CHANNEL, TEAM, Harness, blocks_text
from fakes import slack_requests
from test_loop import ACME, connect

from bot import ids
from bot.services.workspace_settings import MAX_BUDGET_HOURS

ADMIN = "U0ADMIN"
MARKETING = "C0MARKETING"


def valid_values(
    *,
    notify_channel: str | None = CHANNEL,
    hour: str | None = "9",
    timezone: str = "UTC",
    days: str | None = "daily",
    warnings: str = "7,1",
    budget: str = "24",
    connect_role: str | None = "everyone",
    connect_group: str | None = None,
    settings_role: str | None = "admins",
    settings_group: str | None = None,
    linkedin_channel: str | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """The modal's state as Slack sends it on submission."""

    def conversation(value: str | None) -> dict[str, Any]:
        return {"type": "conversations_select", "selected_conversation": value}

    def option(kind: str, value: str | None) -> dict[str, Any]:
        selected = {"text": {"type": "plain_text", "text": value}, "value": value}
        return {"type": kind, "selected_option": selected if value else None}

    def text(value: str) -> dict[str, Any]:
        return {"type": "plain_text_input", "value": value}

    fields = {
        ids.NOTIFY_CHANNEL: conversation(notify_channel),
        ids.network_field("linkedin"): conversation(linkedin_channel),
        ids.DIGEST_HOUR: option("static_select", hour),
        ids.DIGEST_TIMEZONE: text(timezone),
        ids.DIGEST_DAYS_FIELD: option("radio_buttons", days),
        ids.WARNING_DAYS: text(warnings),
        ids.FAILURE_BUDGET: text(budget),
        ids.CONNECT_ROLE: option("radio_buttons", connect_role),
        ids.CONNECT_GROUP: option("static_select", connect_group),
        ids.SETTINGS_ROLE: option("radio_buttons", settings_role),
        ids.SETTINGS_GROUP: option("static_select", settings_group),
    }
    return {block_id: {block_id: element} for block_id, element in fields.items()}


async def submit(
    h: Harness, values: dict[str, Any], user: str = ADMIN, team: str = TEAM
) -> httpx2.Response:
    view = {
        "type": "modal",
        "callback_id": ids.SETTINGS_VIEW,
        "title": {"type": "plain_text", "text": "Settings"},
        "blocks": [],
    }
    body, _ = slack_requests.view_submission(view, values, user_id=user, team_id=team)
    return await h.send(body)


def errors_of(response: httpx2.Response) -> dict[str, str]:
    answer = response.json()
    assert answer["response_action"] == "errors"
    return dict(answer["errors"])


@pytest.fixture
def admin(harness: Harness) -> Harness:
    harness.slack.add_user(ADMIN, admin=True)
    harness.slack.add_channel(CHANNEL, "notices", bot_member=True)
    harness.slack.add_channel(MARKETING, "marketing")
    harness.slack.add_usergroup("S0SOCIAL", "social-admins", [ADMIN])
    return harness


async def test_the_modal_shows_the_settings_in_force(admin: Harness) -> None:
    await admin.click(
        ids.OPEN_SETTINGS, "settings", user=ADMIN, view=slack_requests.home_view(team_id=TEAM)
    )
    (opened,) = await admin.slack.wait_for("views.open")
    view = opened.args["view"]
    assert view["callback_id"] == ids.SETTINGS_VIEW and view["submit"]["text"] == "Save"
    blocks = {block.get("block_id"): block for block in view["blocks"]}
    assert blocks[ids.NOTIFY_CHANNEL]["element"]["initial_conversation"] == CHANNEL
    assert blocks[ids.network_field("linkedin")]["optional"] is True
    assert blocks[ids.DIGEST_HOUR]["element"]["initial_option"]["value"] == "9"
    assert blocks[ids.DIGEST_TIMEZONE]["element"]["initial_value"] == "UTC"
    assert blocks[ids.WARNING_DAYS]["element"]["initial_value"] == "7,1"
    assert blocks[ids.FAILURE_BUDGET]["element"]["initial_value"] == "24"
    assert blocks[ids.CONNECT_ROLE]["element"]["initial_option"]["value"] == "everyone"
    assert blocks[ids.SETTINGS_ROLE]["element"]["initial_option"]["value"] == "admins"
    groups = blocks[ids.CONNECT_GROUP]["element"]["options"]
    assert [(g["text"]["text"], g["value"]) for g in groups] == [("@social-admins", "S0SOCIAL")]
    assert admin.slack.team_of(opened.token) == TEAM  # the request's own token


async def test_every_field_is_checked_and_nothing_is_saved_while_one_is_wrong(
    admin: Harness,
) -> None:
    admin.slack.add_channel("C0SECRET", "secret", private=True)
    admin.slack.add_channel("C0OLD", "old", archived=True)
    response = await submit(
        admin,
        valid_values(
            notify_channel=None,
            hour="25",
            timezone="Mars/Olympus_Mons",
            days="fortnightly",
            warnings="0,abc",
            budget=str(MAX_BUDGET_HOURS + 1),
            connect_role="group",
            settings_role="nobody",
        ),
    )
    errors = errors_of(response)
    assert set(errors) == {
        ids.NOTIFY_CHANNEL,
        ids.DIGEST_HOUR,
        ids.DIGEST_TIMEZONE,
        ids.DIGEST_DAYS_FIELD,
        ids.WARNING_DAYS,
        ids.FAILURE_BUDGET,
        ids.CONNECT_GROUP,
        ids.SETTINGS_ROLE,
    }
    assert "Europe/Paris" in errors[ids.DIGEST_TIMEZONE]
    assert "e.g. 7,1" in errors[ids.WARNING_DAYS]
    assert errors[ids.CONNECT_GROUP].startswith("Choose the user group")

    group_missing = await submit(admin, valid_values(settings_role="group"))
    assert set(errors_of(group_missing)) == {ids.SETTINGS_GROUP}

    for channel, words in (
        ("C0SECRET", "/invite @sources-bot"),
        ("C0OLD", "archived"),
        ("C0GONE", "can't see that channel"),
    ):
        refused = errors_of(await submit(admin, valid_values(linkedin_channel=channel)))
        assert list(refused) == [ids.network_field("linkedin")]
        assert words in refused[ids.network_field("linkedin")]
    private_notices = errors_of(await submit(admin, valid_values(notify_channel="C0SECRET")))
    assert "private" in private_notices[ids.NOTIFY_CHANNEL]

    stored = await admin.rows("SELECT notify_channel, digest_hour, warning_days FROM workspaces")
    assert stored in ([], [(None, None, None)])
    assert admin.slack.calls_to("conversations.join") == []


async def test_saving_joins_a_public_channel_and_routes_a_networks_notices_there(
    admin: Harness,
) -> None:
    response = await submit(
        admin,
        valid_values(
            linkedin_channel=MARKETING,
            hour="17",
            timezone="Europe/Paris",
            days="weekdays",
            warnings="14, 3",
            budget="6",
            connect_role="group",
            connect_group="S0SOCIAL",
        ),
    )
    assert response.status_code == 200 and not response.content  # the modal closes
    (join,) = admin.slack.successful_calls("conversations.join")
    assert join.args["channel"] == MARKETING
    row = await admin.rows(
        "SELECT notify_channel, digest_hour, digest_timezone, digest_days, "
        "renewal_failure_budget_hours, connect_role, connect_group FROM workspaces"
    )
    assert row == [(CHANNEL, 17, "Europe/Paris", "weekdays", 6, "group", "S0SOCIAL")]

    (home,) = await admin.slack.wait_for("views.publish")  # the App Home shows them
    text = blocks_text(home.args["view"])
    assert f"LinkedIn notices go to <#{MARKETING}>." in text
    assert "Warnings 14 days and 3 days before a source expires." in text
    assert "Daily digest at 17:00 Europe/Paris on weekdays." in text

    await connect(admin, ACME, user=ADMIN)
    admin.clock.advance(timedelta(days=61))
    await admin.scan()
    (notice,) = [
        c for c in admin.slack.successful_calls("chat.postMessage") if c.args["channel"] != ADMIN
    ]
    assert notice.args["channel"] == MARKETING


async def expiring_in(h: Harness, days: int) -> None:
    """Acme's token (60 days) has ``days`` left."""
    await connect(h, ACME, user=ADMIN)
    h.clock.advance(timedelta(days=60 - days))


@pytest.mark.parametrize(
    ("warnings", "days_left", "expiring"),
    [("10,1", 9, True), ("3", 5, False)],  # both disagree with a fixed 7-day window
)
async def test_expiring_soon_means_the_workspaces_warning_days_everywhere(
    admin: Harness, warnings: str, days_left: int, expiring: bool
) -> None:
    assert (await submit(admin, valid_values(warnings=warnings))).status_code == 200
    await expiring_in(admin, days_left)
    clock_icon = ":alarm_clock:"

    listing = await admin.command("", user=ADMIN)
    assert (clock_icon in blocks_text(listing)) is expiring
    publishes = len(admin.slack.successful_calls("views.publish"))
    body, _ = slack_requests.app_home_opened(user_id=ADMIN, team_id=TEAM)
    await admin.send(body)
    home = (await admin.slack.wait_for("views.publish", publishes + 1))[-1]
    assert (clock_icon in blocks_text(home.args["view"])) is expiring
    report = await admin.scan()
    assert report.warnings_queued == (1 if expiring else 0)
    workspace = await admin.services.workspaces.get(TEAM)
    plan = await admin.services.digest.plan(workspace)
    assert [s.name for s in plan.content.expiring] == (["Acme Corp"] if expiring else [])


async def test_the_digest_keeps_to_weekdays(admin: Harness) -> None:
    assert (await submit(admin, valid_values(days="weekdays", hour="9"))).status_code == 200
    await connect(admin, ACME, user=ADMIN)
    admin.clock.advance(timedelta(days=61))  # expired: worth a digest
    await admin.scan()
    saturday = admin.clock.now().replace(hour=9)
    while saturday.weekday() != 5:
        saturday += timedelta(days=1)
    admin.clock.set(saturday)
    assert await admin.digest_due() == 0
    admin.clock.set(saturday + timedelta(days=2))  # Monday
    assert await admin.digest_due() == 1


async def test_the_renewal_failure_budget_is_the_workspaces(network_bot: Any) -> None:
    from test_renewal import stored, x_source

    async with network_bot("x") as (h, fake):  # RENEWAL_FAILURE_BUDGET_HOURS: the default, 24
        h.slack.add_user(ADMIN, admin=True)
        h.slack.add_channel(CHANNEL, "notices", bot_member=True)
        assert (await submit(h, valid_values(budget="2"))).status_code == 200
        source_id, _ = await x_source(h, fake)
        fake.fail("refresh", 503, times=1000)
        h.clock.advance(timedelta(minutes=110))
        await h.scan()
        while (await stored(h, source_id)).status == "expiring":
            retry_at = (await stored(h, source_id)).next_attempt_at
            assert retry_at is not None and retry_at - h.clock.now() < timedelta(hours=3)
            h.clock.set(retry_at)
            await h.scan()
        source = await stored(h, source_id)
        assert source.status == "expired"
        assert source.last_error is not None
        assert "renewal kept failing for 2 hours" in source.last_error["reason"]


# --- the team workflow (issue 9) --------------------------------------------------------------


def workflow_values(
    *,
    warn_after: str = "30m",
    claim_remind: str = "2",
    max_snooze: str = "1",
    escalate_after: str = "12",
    target: str | None = "group",
    group: str | None = "S0SOCIAL",
    **others: Any,
) -> dict[str, dict[str, dict[str, Any]]]:
    """The modal's state with the team workflow's fields too."""
    values = valid_values(**others)
    selected = {"text": {"type": "plain_text", "text": target}, "value": target}
    group_selected = {"text": {"type": "plain_text", "text": group}, "value": group}
    fields: dict[str, dict[str, Any]] = {
        ids.WARN_AFTER: {"type": "plain_text_input", "value": warn_after},
        ids.CLAIM_REMIND: {"type": "plain_text_input", "value": claim_remind},
        ids.MAX_SNOOZE: {"type": "plain_text_input", "value": max_snooze},
        ids.ESCALATE_AFTER: {"type": "plain_text_input", "value": escalate_after},
        ids.ESCALATION_TARGET: {
            "type": "radio_buttons",
            "selected_option": selected if target else None,
        },
        ids.ESCALATION_GROUP: {
            "type": "static_select",
            "selected_option": group_selected if group else None,
        },
    }
    return values | {block_id: {block_id: element} for block_id, element in fields.items()}


async def test_the_modal_shows_the_team_workflow_in_force(admin: Harness) -> None:
    await admin.click(
        ids.OPEN_SETTINGS, "settings", user=ADMIN, view=slack_requests.home_view(team_id=TEAM)
    )
    (opened,) = await admin.slack.wait_for("views.open")
    blocks = {block.get("block_id"): block for block in opened.args["view"]["blocks"]}
    assert blocks[ids.WARN_AFTER]["element"]["initial_value"] == "1h"
    assert blocks[ids.CLAIM_REMIND]["element"]["initial_value"] == "4"
    assert blocks[ids.MAX_SNOOZE]["element"]["initial_value"] == "3"
    assert blocks[ids.ESCALATE_AFTER]["element"]["initial_value"] == "24"
    target = blocks[ids.ESCALATION_TARGET]["element"]
    assert target["initial_option"]["value"] == "admins"
    assert [o["value"] for o in target["options"]] == ["admins", "group"]
    groups = blocks[ids.ESCALATION_GROUP]["element"]["options"]
    assert [g["value"] for g in groups] == ["S0SOCIAL"]


async def save(h: Harness, values: dict[str, Any]) -> None:
    """Submit valid settings and wait for the App Home the listener publishes after its ack."""
    published = len(h.slack.successful_calls("views.publish"))
    assert (await submit(h, values)).status_code == 200
    await h.slack.wait_for("views.publish", published + 1)


async def workflow_row(h: Harness) -> list[Any]:
    return await h.rows(
        "SELECT renewal_warn_after_minutes, claim_remind_hours, max_snooze_days, "
        "escalate_after_hours, escalation_target, escalation_group FROM workspaces"
    )


async def test_the_team_workflow_is_saved_and_kept_when_left_out(admin: Harness) -> None:
    await save(admin, workflow_values())
    stored = [(30, 2, 1, 12, "group", "S0SOCIAL")]
    assert await workflow_row(admin) == stored
    chosen = await admin.services.workspaces.settings_of(TEAM)
    assert chosen.renewal_warn_after == timedelta(minutes=30)

    # A submission without these fields (an older modal, say) changes none of them.
    await save(admin, valid_values(hour="10"))
    assert await workflow_row(admin) == stored

    # Escalating to the admins forgets the group; "0" posts renewal failures at once.
    await save(admin, workflow_values(warn_after="0", target="admins", max_snooze="0"))
    assert await workflow_row(admin) == [(0, 2, 0, 12, "admins", None)]


async def test_every_team_workflow_field_is_checked(admin: Harness) -> None:
    response = await submit(
        admin,
        workflow_values(
            warn_after="soon",
            claim_remind="0",
            max_snooze="31",
            escalate_after="a day",
            group=None,
        ),
    )
    errors = errors_of(response)
    assert set(errors) == {
        ids.WARN_AFTER,
        ids.CLAIM_REMIND,
        ids.MAX_SNOOZE,
        ids.ESCALATE_AFTER,
        ids.ESCALATION_GROUP,
    }
    assert "1h, 30m or 1h30m" in errors[ids.WARN_AFTER]
    assert errors[ids.MAX_SNOOZE] == "Type a whole number of days from 0 to 30."
    assert errors[ids.ESCALATION_GROUP] == "Choose the user group, or the admins above."
    too_long = errors_of(await submit(admin, workflow_values(warn_after="400h")))
    assert list(too_long) == [ids.WARN_AFTER]
    assert await admin.rows("SELECT claim_remind_hours FROM workspaces") in ([], [(None,)])
