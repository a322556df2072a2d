"""Who may do what, enforced on the server for every action, with an answer naming who can."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import CHANNEL, TEAM, Harness, blocks_text, link_from
from fakes import slack_requests
from test_loop import expire_acme

from bot import ids
from bot.services.roles import RULES, Action

ADMIN, OWNER, MEMBER, OTHER = "U0ADMIN", "U0OWNER", "U0SOCIAL", "U0OTHER"
GROUP = "S0SOCIAL"
ONLY_ADMINS = "Only workspace admins and owners can {verb} here."
ONLY_GROUP = (
    f"Only workspace admins and owners and members of <!subteam^{GROUP}> can {{verb}} here."
)


async def people(h: Harness) -> None:
    h.slack.add_user(ADMIN, admin=True)
    h.slack.add_user(OWNER, owner=True)
    h.slack.add_user(MEMBER)
    h.slack.add_user(OTHER)
    h.slack.add_usergroup(GROUP, "social-admins", [MEMBER])


async def set_roles(h: Harness, **values: str | None) -> None:
    """Set the workspace's role settings as the settings modal would store them."""
    await h.services.workspaces.ensure(TEAM)
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    async with h.bot.engine.begin() as connection:
        from sqlalchemy import text

        await connection.execute(
            text(f"UPDATE workspaces SET {assignments} WHERE id = :team"),  # noqa: S608
            {**values, "team": TEAM},
        )


def home() -> dict[str, Any]:
    return slack_requests.home_view(team_id=TEAM)


async def opened(h: Harness, before: int) -> dict[str, Any]:
    calls = await h.slack.wait_for("views.open", before + 1)
    return dict(calls[-1].args["view"])


CONNECT_CASES = [
    ("everyone", None, OTHER, True),
    ("admins", None, ADMIN, True),
    ("admins", None, OWNER, True),
    ("admins", None, MEMBER, False),
    ("admins", None, OTHER, False),
    ("group", GROUP, ADMIN, True),
    ("group", GROUP, MEMBER, True),
    ("group", GROUP, OTHER, False),
]


@pytest.mark.parametrize(("role", "group", "user", "allowed"), CONNECT_CASES)
async def test_connect_reconnect_and_retry_follow_who_may_connect(
    harness: Harness, role: str, group: str | None, user: str, allowed: bool
) -> None:
    await people(harness)
    notice = await expire_acme(harness)
    await set_roles(harness, connect_role=role, connect_group=group)
    refusal = (ONLY_GROUP if group else ONLY_ADMINS).format

    # /sources connect
    payload = await harness.command("connect linkedin", user=user)
    if allowed:
        assert link_from(payload).startswith("http://bot.test/oauth/start/")
    else:
        assert payload["text"] == refusal(verb="connect sources")
        assert "oauth/start" not in blocks_text(payload)

    # Reconnect on the notice (ephemeral) and on the App Home (a modal)
    if allowed:
        assert (await harness.reconnect_link(notice, user=user)).startswith("http://bot.test/")
    else:
        before = len(harness.slack.successful_calls("response_url"))
        await harness.click(
            ids.RECONNECT_SOURCE,
            "1",
            user=user,
            channel_id=CHANNEL,
            message_ts=notice["ts"],
            response_url=harness.slack.response_url(f"refused-{user}"),
        )
        answer = (await harness.slack.wait_for("response_url", before + 1))[-1].args
        assert answer["response_type"] == "ephemeral"
        assert answer["text"] == refusal(verb="reconnect sources")

    # Connect on the App Home
    before = len(harness.slack.successful_calls("views.open"))
    await harness.click(f"{ids.CONNECT_NETWORK}:linkedin", "linkedin", user=user, view=home())
    modal = await opened(harness, before)
    if allowed:
        assert link_from(modal).startswith("http://bot.test/oauth/start/")
    else:
        assert refusal(verb="connect sources") in blocks_text(modal)

    # Try again (failed deliveries) on the App Home
    before = len(harness.slack.successful_calls("views.open"))
    publishes = len(harness.slack.successful_calls("views.publish"))
    await harness.click(ids.RETRY_DELIVERIES, "retry", user=user, view=home())
    if allowed:
        await harness.slack.wait_for("views.publish", publishes + 1)
    else:
        assert refusal(verb="retry failed deliveries") in blocks_text(await opened(harness, before))
    # No link was made for a refused person.
    attempts = await harness.rows("SELECT user_id FROM connect_attempts")
    assert (user,) in attempts if allowed else (user,) not in attempts


SETTINGS_CASES = [
    ("admins", None, ADMIN, True),
    ("admins", None, OWNER, True),
    ("admins", None, MEMBER, False),
    ("admins", None, OTHER, False),
    ("group", GROUP, MEMBER, True),
    ("group", GROUP, ADMIN, True),
    ("group", GROUP, OTHER, False),
]


@pytest.mark.parametrize(("role", "group", "user", "allowed"), SETTINGS_CASES)
async def test_settings_follow_who_may_change_them(
    harness: Harness, role: str, group: str | None, user: str, allowed: bool
) -> None:
    await people(harness)
    harness.slack.add_channel("C0OTHER", "other")
    harness.slack.add_channel(CHANNEL, "notices")
    await set_roles(harness, settings_role=role, settings_group=group)
    refusal = (ONLY_GROUP if group else ONLY_ADMINS).format(verb="change settings")

    # The Settings button on the App Home
    before = len(harness.slack.successful_calls("views.open"))
    await harness.click(ids.OPEN_SETTINGS, "settings", user=user, view=home())
    modal = await opened(harness, before)
    if allowed:
        assert modal["callback_id"] == ids.SETTINGS_VIEW
    else:
        assert modal.get("callback_id") != ids.SETTINGS_VIEW
        assert refusal in blocks_text(modal)

    # /sources settings
    before_open = len(harness.slack.successful_calls("views.open"))
    before_reply = len(harness.slack.successful_calls("response_url"))
    body, _ = slack_requests.slash_command(
        text="settings",
        user_id=user,
        team_id=TEAM,
        response_url=harness.slack.response_url(f"settings-{user}"),
    )
    await harness.send(body)
    if allowed:
        view = await opened(harness, before_open)
        assert view["callback_id"] == ids.SETTINGS_VIEW
    else:
        answer = (await harness.slack.wait_for("response_url", before_reply + 1))[-1].args
        assert answer["text"] == refusal and answer["response_type"] == "ephemeral"

    # Submitting the modal is checked again (a role can change while it is open)
    from test_settings import submit, valid_values

    publishes = len(harness.slack.successful_calls("views.publish"))
    values = valid_values(notify_channel="C0OTHER", settings_role=role, settings_group=group)
    response = await submit(harness, values, user=user)
    stored = await harness.rows("SELECT notify_channel FROM workspaces WHERE id = :t", t=TEAM)
    if allowed:
        assert response.status_code == 200 and not response.content  # saved; the modal closes
        assert stored == [("C0OTHER",)]
        await harness.slack.wait_for("views.publish", publishes + 1)  # the App Home shows it
    else:
        assert response.json()["response_action"] == "update"
        assert refusal in blocks_text(response.json()["view"])
        assert stored == [(None,)]

    # The App Home's channel select too
    publishes = len(harness.slack.successful_calls("views.publish"))
    before = len(harness.slack.successful_calls("views.open"))
    await harness.click(
        ids.SET_NOTIFY_CHANNEL,
        None,
        user=user,
        view=home(),
        action_type="conversations_select",
        action_fields={"selected_conversation": CHANNEL},
    )
    await harness.slack.wait_for("views.publish", publishes + 1)
    stored = await harness.rows("SELECT notify_channel FROM workspaces WHERE id = :t", t=TEAM)
    if allowed:
        assert stored == [(CHANNEL,)]
    else:
        assert stored == [(None,)]
        assert refusal in blocks_text(await opened(harness, before))


def test_every_action_names_a_role_setting_and_a_verb() -> None:
    """Adding an action is one line in RULES; each reads as a sentence."""
    assert set(RULES) == set(Action)
    for rule in RULES.values():
        assert rule.governed_by in {"connect", "settings"}
        assert ONLY_ADMINS.format(verb=rule.verb).endswith(" here.")


async def test_admin_status_and_group_members_are_cached_for_ten_minutes(
    harness: Harness,
) -> None:
    await people(harness)
    await set_roles(harness, connect_role="group", connect_group=GROUP)

    async def may(user: str) -> bool:
        verdict = await harness.services.roles.may(TEAM, user, Action.CONNECT)
        return bool(verdict.allowed)

    assert await may(MEMBER) and not await may(OTHER) and await may(ADMIN)
    asked = (
        len(harness.slack.calls_to("users.info")),
        len(harness.slack.calls_to("usergroups.users.list")),
    )
    harness.slack.add_usergroup(GROUP, "social-admins", [OTHER])  # membership changes in Slack
    harness.slack.add_user(ADMIN)  # and the admin is demoted
    harness.clock.advance(timedelta(minutes=9))
    assert await may(MEMBER) and not await may(OTHER) and await may(ADMIN)  # from the database
    assert (
        len(harness.slack.calls_to("users.info")),
        len(harness.slack.calls_to("usergroups.users.list")),
    ) == asked
    harness.clock.advance(timedelta(minutes=2))
    assert await may(OTHER) and not await may(MEMBER) and not await may(ADMIN)
    assert await harness.rows("SELECT count(*) FROM role_facts WHERE kind = 'group'") == [(1,)]


async def test_a_stranger_or_a_deleted_group_is_simply_not_allowed(harness: Harness) -> None:
    await set_roles(harness, connect_role="group", connect_group="S0DELETED")
    payload = await harness.command("connect linkedin", user="U0STRANGER")  # users.info: not found
    assert payload["text"] == (
        "Only workspace admins and owners and members of <!subteam^S0DELETED> can connect "
        "sources here."
    )
