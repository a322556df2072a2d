"""Notices as a good on-call tool (issue 9, items 1-4), end to end through signed Slack
requests, the fake Slack and the fake networks, on the controlled clock: quiet on blips and
recovering in place, claims and take-overs with their reminder, bounded snoozes announced
again when they run out, and one escalation per episode."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import CHANNEL, TEAM, Harness, blocks_text, bot_env, reconnect_buttons, running_bot
from fakes import slack_requests
from sqlalchemy import select
from test_loop import ACME, connect, expire_acme
from test_renewal import X_LABEL, stored, x_source

from bot import ids
from bot.services.events import EventType
from bot.store.models import Event, Snooze

# --- helpers ---------------------------------------------------------------------------------


def posted(h: Harness, channel: str = CHANNEL) -> list[dict[str, Any]]:
    """Messages posted to ``channel`` itself (not thread replies), oldest first, with ts."""
    return [
        call.args | {"ts": call.response["ts"]}
        for call in h.slack.successful_calls("chat.postMessage")
        if call.args["channel"] == channel and not call.args.get("thread_ts")
    ]


def replies(h: Harness, ts: str) -> list[dict[str, Any]]:
    return [
        call.args
        for call in h.slack.successful_calls("chat.postMessage")
        if call.args.get("thread_ts") == ts
    ]


def dms(h: Harness, user: str) -> list[dict[str, Any]]:
    return [
        c.args for c in h.slack.successful_calls("chat.postMessage") if c.args["channel"] == user
    ]


def now_reads(h: Harness, notice: dict[str, Any]) -> dict[str, Any]:
    """The notice as Slack shows it now, after every edit."""
    return h.slack.messages[(notice["channel"], notice["ts"])]


def claim_value(message: dict[str, Any]) -> str:
    (button,) = [
        element
        for block in message["blocks"]
        for element in block.get("elements", [])
        if element.get("action_id") == ids.CLAIM_SOURCE
    ]
    assert button["text"]["text"] == "I'll take it"
    return str(button["value"])


def snooze_options(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) of the notice's "Remind me" choices; [] when it offers none."""
    selects = [
        element
        for block in message["blocks"]
        for element in block.get("elements", [])
        if element.get("action_id") == ids.SNOOZE_SOURCE
    ]
    if not selects:
        return []
    (select_,) = selects
    assert select_["placeholder"]["text"] == "Remind me…"
    return [(o["text"]["text"], o["value"]) for o in select_["options"]]


async def answer_of(h: Harness, send: Any) -> str:
    """Send a click; return the private answer it got."""
    before = len(h.slack.successful_calls("response_url"))
    response = await send(h.slack.response_url(f"answer-{before}"))
    assert response.status_code == 200
    answer = (await h.slack.wait_for("response_url", before + 1))[-1].args
    assert answer["response_type"] == "ephemeral"
    await h.drain()  # the notice's edit goes out through the outbox
    return str(answer["text"])


async def take(h: Harness, notice: dict[str, Any], user: str) -> str:
    return await answer_of(
        h,
        lambda url: h.click(
            ids.CLAIM_SOURCE,
            claim_value(notice),
            user=user,
            channel_id=notice["channel"],
            message_ts=notice["ts"],
            response_url=url,
        ),
    )


async def remind_me(h: Harness, notice: dict[str, Any], value: str, user: str = "U2") -> str:
    return await answer_of(
        h,
        lambda url: h.click(
            ids.SNOOZE_SOURCE,
            None,
            user=user,
            channel_id=notice["channel"],
            message_ts=notice["ts"],
            response_url=url,
            action_type="static_select",
            action_fields={"selected_option": {"text": {"type": "plain_text"}, "value": value}},
        ),
    )


async def events(h: Harness, type: EventType) -> list[Event]:
    async with h.services.ctx.read() as session:
        found = await session.scalars(
            select(Event).where(Event.type == str(type)).order_by(Event.id)
        )
        return list(found.all())


async def warned_acme(h: Harness, days_left: float = 7) -> dict[str, Any]:
    """Connect Acme (60 days, cannot renew itself) and scan ``days_left`` before its expiry:
    the early warning as posted."""
    await connect(h)
    h.clock.advance(timedelta(days=60 - days_left))
    report = await h.scan()
    assert report.warnings_queued == 1
    (warning,) = posted(h)
    return warning


# --- 1. quiet on blips -----------------------------------------------------------------------


async def test_a_503_for_59_minutes_posts_nothing_61_posts_one_warning_that_recovers(
    network_bot: Any,
) -> None:
    async with network_bot("x", env={"DIGEST_TIMEZONE": "Europe/Paris"}) as (h, fake):
        source_id, _ = await x_source(h, fake)
        fake.fail("refresh", 503, times=5)
        h.clock.advance(timedelta(minutes=110))  # inside X's renewal window: 09:50 UTC
        start = h.clock.now()

        report = await h.scan()
        assert report.transient == [f"{X_LABEL}: X is not answering (HTTP 503)"]
        # /sources and the App Home show it at once; the channel hears nothing.
        assert "renewal failing: X is not answering (HTTP 503)" in blocks_text(await h.command())
        body, _ = slack_requests.app_home_opened(user_id="U3", team_id=TEAM)
        assert (await h.send(body)).status_code == 200
        (home,) = await h.slack.wait_for("views.publish")
        assert "renewal failing: X is not answering (HTTP 503)" in blocks_text(home.args["view"])
        for minutes in (15, 30, 45, 59):  # the scheduler's scans, renewal retrying as due
            h.clock.set(start + timedelta(minutes=minutes))
            assert (await h.scan()).warnings_queued == 0
        assert posted(h) == []
        assert len(fake.token_requests) == 4

        h.clock.set(start + timedelta(minutes=61))
        assert (await h.scan()).warnings_queued == 1
        (warning,) = posted(h)
        assert warning["text"] == f"Renewal failing for 1 connection: {X_LABEL}"
        # 09:50 UTC is 10:50 in Paris, the workspace's time zone.
        assert "X is not answering (HTTP 503) since 10:50; I keep trying" in blocks_text(warning)
        assert [b["value"] for b in reconnect_buttons(warning)] == [str(source_id)]
        assert claim_value(warning) == str(source_id)
        for minutes in (62, 70):  # one warning per streak of failures
            h.clock.set(start + timedelta(minutes=minutes))
            await h.scan()
        assert len(posted(h)) == 1

        h.clock.set(start + timedelta(minutes=93))  # the next try: X answers again
        report = await h.scan()
        assert report.renewed == [X_LABEL]
        assert (await stored(h, source_id)).status == "active"
        assert len(posted(h)) == 1  # no new message
        shown = now_reads(h, warning)
        assert shown["blocks"][0]["text"]["text"] == ":white_check_mark: Recovered by itself"
        assert f"*{X_LABEL}* recovered by itself" in blocks_text(shown)
        assert reconnect_buttons(shown) == []
        (reply,) = replies(h, warning["ts"])
        assert reply["text"] == (
            f"{X_LABEL} recovered by itself at 12:23: renewal works again. Nothing to do."
        )
        assert "renewal failing" not in blocks_text(await h.command())


async def test_the_quiet_time_is_the_workspaces_setting(network_bot: Any) -> None:
    async with network_bot("x", env={"RENEWAL_WARN_AFTER": "30m"}) as (h, fake):
        await x_source(h, fake)
        fake.fail("refresh", 503, times=1000)
        h.clock.advance(timedelta(minutes=110))
        start = h.clock.now()
        await h.scan()
        h.clock.set(start + timedelta(minutes=29))
        assert (await h.scan()).warnings_queued == 0
        h.clock.set(start + timedelta(minutes=30))
        assert (await h.scan()).warnings_queued == 1


async def test_a_renewal_failing_past_its_budget_expires_with_its_own_notice(
    network_bot: Any,
) -> None:
    async with network_bot("x", env={"RENEWAL_FAILURE_BUDGET_HOURS": "2"}) as (h, fake):
        source_id, _ = await x_source(h, fake)
        fake.fail("refresh", 503, times=1000)
        h.clock.advance(timedelta(minutes=110))
        await h.scan()
        h.clock.advance(timedelta(hours=1))
        await h.scan()
        (warning,) = posted(h)
        h.clock.advance(timedelta(hours=2))
        await h.scan()
        assert (await stored(h, source_id)).status == "expired"
        warning_again, expiry = posted(h)
        assert warning_again["ts"] == warning["ts"]
        assert expiry["text"].startswith("1 connection needs reconnecting")
        assert replies(h, warning["ts"]) == []  # it did not recover
        # The warning is edited to say what is true now: it stopped, and why.
        shown = blocks_text(now_reads(h, warning))
        assert ":lock: *X is not answering (HTTP 503); renewal kept failing for 2 hours*" in shown
        assert "I keep trying" not in shown


# --- 2. claims -------------------------------------------------------------------------------


async def test_claim_take_over_and_the_reminder_dm(harness: Harness) -> None:
    h = harness
    notice = await expire_acme(h)
    assert claim_value(notice)

    answer = await take(h, notice, "U2")
    assert answer == (
        "You're on it: *LinkedIn · Acme Corp*. I'll remind you in 4 hours if it still needs "
        "a person."
    )
    assert "<@U2> is on it" in blocks_text(now_reads(h, notice))
    assert await take(h, notice, "U2") == "You're already on *LinkedIn · Acme Corp*."

    h.clock.advance(timedelta(hours=1))
    answer = await take(h, notice, "U3")
    assert answer.startswith("You took *LinkedIn · Acme Corp* over from <@U2>.")
    shown = blocks_text(now_reads(h, notice))
    assert "<@U3> is on it" in shown and "<@U2>" not in shown
    claimed = await events(h, EventType.CLAIMED)
    assert [(e.actor, e.payload["took_over_from"]) for e in claimed] == [
        ("U2", None),
        ("U3", "U2"),
    ]
    assert all(e.payload["notice_id"] for e in claimed)

    h.clock.advance(timedelta(hours=3, minutes=59))  # U3 took it 3h59 ago
    await h.check()
    assert dms(h, "U2") == dms(h, "U3") == []
    h.clock.advance(timedelta(minutes=1))
    report = await h.check()
    assert report.reminded == 1
    (dm,) = dms(h, "U3")
    assert dm["text"] == "Reminder: LinkedIn · Acme Corp still needs reconnecting"
    assert "You took on *LinkedIn · Acme Corp* 4 hours ago" in blocks_text(dm)
    assert len(reconnect_buttons(dm)) == 1
    assert dms(h, "U2") == []
    h.clock.advance(timedelta(hours=8))
    await h.check()
    assert len(dms(h, "U3")) == 1  # once


async def test_no_reminder_once_the_source_is_reconnected(harness: Harness) -> None:
    h = harness
    notice = await expire_acme(h)
    await take(h, notice, "U2")
    link = await h.reconnect_link(notice, user="U2")
    async with h.browser() as browser:
        await browser.get(link)
    await h.drain()
    shown = now_reads(h, notice)
    assert "All reconnected" in blocks_text(shown) and "is on it" not in blocks_text(shown)

    h.clock.advance(timedelta(hours=5))
    assert (await h.check()).reminded == 0
    assert dms(h, "U2") == []
    # A source that works again has nothing to take on.
    answer = await take(h, notice, "U3")
    assert answer == "*LinkedIn · Acme Corp* works again: there is nothing to take on or snooze."


async def test_only_those_who_may_reconnect_may_take_a_source(harness: Harness) -> None:
    h = harness
    h.slack.add_user("U0ADMIN", admin=True)
    h.slack.add_user("U5")
    notice = await expire_acme(h)
    async with h.bot.engine.begin() as connection:
        from sqlalchemy import text

        await connection.execute(text("UPDATE workspaces SET connect_role = 'admins'"))
    assert await take(h, notice, "U5") == (
        "Only workspace admins and owners can take sources on here."
    )
    assert await events(h, EventType.CLAIMED) == []
    assert (await take(h, notice, "U0ADMIN")).startswith("You're on it")
    assert await remind_me(h, notice, snooze_options(notice)[0][1], user="U5") == (
        "Only workspace admins and owners can snooze notices here."
    )


# --- 3. bounded snoozes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "label", "after"),
    [
        ("1d", "In 1 day", timedelta(days=1)),
        ("3d", "In 3 days", timedelta(days=3)),
        ("before", "The day before it expires", timedelta(days=6)),
    ],
)
async def test_every_snooze_choice_of_a_warning_and_its_announcement_again(
    harness: Harness, choice: str, label: str, after: timedelta
) -> None:
    h = harness
    warning = await warned_acme(h, days_left=7)
    (source,) = await h.services.sources.list(TEAM)
    options = snooze_options(warning)
    assert [text for text, _ in options] == ["In 1 day", "In 3 days", "The day before it expires"]
    assert (label, f"{source.id}:{choice}") in options

    snoozed_at = h.clock.now()
    until = snoozed_at + after
    answer = await remind_me(h, warning, f"{source.id}:{choice}")
    when = f"{until:%a} {until.day} {until:%b} {until:%H:%M}"
    assert answer == (
        f"Snoozed *LinkedIn · Acme Corp* until {when}. If it still needs a person then, I'll "
        "announce it again."
    )
    assert f"snoozed by <@U2> until {when}" in blocks_text(now_reads(h, warning))
    (event,) = await events(h, EventType.SNOOZED)
    assert (event.actor, event.payload["choice"]) == ("U2", choice)
    assert event.payload["until"] == until.isoformat()

    h.clock.set(until - timedelta(minutes=5))
    await h.scan()
    await h.check()
    assert len(posted(h)) == 1  # still snoozed

    h.clock.set(until)
    await h.scan()  # the scheduler scans, then checks the workflow
    await h.check()
    first, again = posted(h)
    assert first["ts"] == warning["ts"] and again["ts"] != warning["ts"]
    assert again["text"] == "1 connection expires soon: LinkedIn · Acme Corp"
    assert "snoozed by" not in blocks_text(now_reads(h, warning))
    h.clock.advance(timedelta(minutes=5))
    await h.scan()
    await h.check()
    assert len(posted(h)) == 2  # announced again once


async def test_a_snooze_holds_back_the_next_warning_and_that_warning_is_the_one_again(
    database_url: str, slack: Any, linkedin: Any, clock: Any
) -> None:
    env = {**bot_env(database_url, slack, linkedin), "EXPIRY_WARNING_DAYS": "7,5"}
    async with running_bot(env, slack, linkedin, clock) as h:
        warning = await warned_acme(h, days_left=7)
        (source,) = await h.services.sources.list(TEAM)
        await remind_me(h, warning, f"{source.id}:3d")
        h.clock.advance(timedelta(days=2, minutes=5))  # under 5 days left: muted
        assert (await h.scan()).warnings_queued == 0
        h.clock.advance(timedelta(days=1))
        await h.check()
        _, again = posted(h)
        assert "expires in 3 days" in blocks_text(again)
        assert (await h.scan()).warnings_queued == 0  # the 5-day warning is this one
        assert len(posted(h)) == 2


async def test_a_snooze_never_passes_the_expiry(harness: Harness) -> None:
    h = harness
    warning = await warned_acme(h, days_left=2)
    (source,) = await h.services.sources.list(TEAM)
    assert source.expires_at is not None
    assert [text for text, _ in snooze_options(warning)] == ["In 1 day", "Until it expires"]
    await remind_me(h, warning, f"{source.id}:3d")
    async with h.services.ctx.read() as session:
        (snooze,) = (await session.scalars(select(Snooze))).all()
    assert snooze.until == source.expires_at

    h.clock.set(source.expires_at)
    await h.scan()  # it expired: the expiry notice is the news, not the snooze's end
    await h.check()
    warning_still, expiry = posted(h)
    assert warning_still["ts"] == warning["ts"]
    assert expiry["text"] == "1 connection needs reconnecting: LinkedIn · Acme Corp"


async def test_an_expired_source_is_snoozed_at_most_max_snooze_days_and_announced_again(
    database_url: str, slack: Any, linkedin: Any, clock: Any
) -> None:
    env = {**bot_env(database_url, slack, linkedin), "MAX_SNOOZE_DAYS": "2"}
    async with running_bot(env, slack, linkedin, clock) as h:
        notice = await expire_acme(h)
        (source,) = await h.services.sources.list(TEAM)
        assert snooze_options(notice) == [
            ("In 1 day", f"{source.id}:1d"),
            ("In 2 days", f"{source.id}:3d"),
        ]
        await remind_me(h, notice, f"{source.id}:3d")  # three days asked: two given
        async with h.services.ctx.read() as session:
            (snooze,) = (await session.scalars(select(Snooze))).all()
        assert snooze.until == h.clock.now() + timedelta(days=2)
        assert await remind_me(h, notice, f"{source.id}:before") == (
            "That choice isn't available for *LinkedIn · Acme Corp* now. Pick another one "
            "under *Remind me*."
        )

        h.clock.advance(timedelta(days=2))
        await h.scan()
        await h.check()
        first, again = posted(h)
        assert first["ts"] == notice["ts"]
        assert again["text"] == "1 connection needs reconnecting: LinkedIn · Acme Corp"
        assert len(reconnect_buttons(again)) == 1


async def test_no_snoozing_a_dead_source_when_the_workspace_allows_none(
    database_url: str, slack: Any, linkedin: Any, clock: Any
) -> None:
    env = {**bot_env(database_url, slack, linkedin), "MAX_SNOOZE_DAYS": "0"}
    async with running_bot(env, slack, linkedin, clock) as h:
        notice = await expire_acme(h)
        (source,) = await h.services.sources.list(TEAM)
        assert snooze_options(notice) == []
        assert claim_value(notice) == str(source.id)  # it can still be taken on
        answer = await remind_me(h, notice, f"{source.id}:1d")
        assert "doesn't let such sources be snoozed" in answer
        assert await events(h, EventType.SNOOZED) == []


async def test_a_snoozed_source_reconnected_meanwhile_is_not_announced_again(
    harness: Harness,
) -> None:
    h = harness
    notice = await expire_acme(h)
    (source,) = await h.services.sources.list(TEAM)
    await remind_me(h, notice, f"{source.id}:1d")
    link = await h.reconnect_link(notice)
    async with h.browser() as browser:
        await browser.get(link)
    await h.drain()
    h.clock.advance(timedelta(days=1))
    assert (await h.check()).announced_again == 0
    assert len(posted(h)) == 1


# --- 4. escalation ---------------------------------------------------------------------------


async def test_an_expired_source_is_escalated_once_per_episode(harness: Harness) -> None:
    h = harness
    h.slack.add_user("U0OWNER", owner=True)
    h.slack.add_user("U0ADMIN", admin=True)
    h.slack.add_user("U5")
    notice = await expire_acme(h)  # connected by U1
    await take(h, notice, "U2")

    h.clock.advance(timedelta(hours=23, minutes=59))
    assert (await h.check()).escalated == 0
    h.clock.advance(timedelta(minutes=1))
    assert (await h.check()).escalated == 1
    (reply,) = replies(h, notice["ts"])
    text = blocks_text(reply)
    assert reply["text"] == "Escalated: LinkedIn · Acme Corp still needs reconnecting"
    assert "*LinkedIn · Acme Corp* has needed reconnecting for 24 hours" in text
    assert "<@U1> connected it last." in text
    assert "<@U2> said they'd take it." in text
    assert "<@U0OWNER> <@U0ADMIN>: please make sure someone reconnects it." in text
    assert "<@U5>" not in text
    (event,) = await events(h, EventType.ESCALATED)
    assert event.payload["target"] == "admins" and event.payload["after_hours"] == 24

    for _ in range(3):
        h.clock.advance(timedelta(hours=12))
        await h.check()
    assert len(replies(h, notice["ts"])) == 1  # once

    # Reconnected, then expired again: a new episode, a new notice, its own escalation.
    link = await h.reconnect_link(notice)
    async with h.browser() as browser:
        await browser.get(link)
    await h.drain()
    h.clock.advance(timedelta(days=61))
    await h.scan()
    second = posted(h)[-1]
    assert second["ts"] != notice["ts"]
    h.clock.advance(timedelta(hours=24))
    await h.check()
    (again,) = replies(h, second["ts"])
    assert "<@U2> connected it last." in blocks_text(again)  # U2 reconnected it
    assert len(await events(h, EventType.ESCALATED)) == 2


async def test_escalation_to_a_user_group_and_not_while_snoozed(harness: Harness) -> None:
    h = harness
    notice = await expire_acme(h)
    (source,) = await h.services.sources.list(TEAM)
    async with h.bot.engine.begin() as connection:
        from sqlalchemy import text

        await connection.execute(
            text("UPDATE workspaces SET escalation_target = 'group', escalation_group = 'S0OPS'")
        )
    await remind_me(h, notice, f"{source.id}:3d")
    h.clock.advance(timedelta(days=2))
    assert (await h.check()).escalated == 0  # snoozed: held back
    h.clock.advance(timedelta(days=1))
    report = await h.check()
    assert (report.announced_again, report.escalated) == (1, 1)
    (reply,) = replies(h, notice["ts"])
    assert "<!subteam^S0OPS>: please make sure someone reconnects it." in blocks_text(reply)
    assert h.slack.calls_to("users.list") == []


async def test_escalation_names_the_admins_in_words_when_slack_cannot_list_them(
    harness: Harness,
) -> None:
    h = harness
    notice = await expire_acme(h)
    h.slack.fail("users.list", "missing_scope", status=200, retry_after=None)
    h.clock.advance(timedelta(hours=24))
    await h.check()
    (reply,) = replies(h, notice["ts"])
    assert "Workspace admins: please make sure someone reconnects it." in blocks_text(reply)


async def test_the_scan_command_runs_the_workflow_check(harness: Harness) -> None:
    """`serve`'s scheduler runs the check after each scan; so does `sources-bot scan`."""
    from bot.scheduler import create_scheduler

    h = harness
    notice = await expire_acme(h)
    h.clock.advance(timedelta(hours=24))
    scheduler = create_scheduler(h.services)
    (job,) = [job for job in scheduler.get_jobs() if job.id == "scan"]
    await job.func()
    await h.drain()
    assert len(replies(h, notice["ts"])) == 1
    assert ACME[1] in blocks_text(replies(h, notice["ts"])[0])
