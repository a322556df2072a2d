"""The outbox as people experience it: nothing the bot must say is lost to a Slack outage or a
restart, nothing is said twice, and what Slack refuses for good is shown where people look."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conftest import CHANNEL, TEAM, Harness, blocks_text, bot_env, running_bot
from fakes import slack_requests
from test_loop import connect, expire_acme

from bot import ids


def thread_replies(h: Harness, notice: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        c.args
        for c in h.slack.successful_calls("chat.postMessage")
        if c.args.get("thread_ts") == notice["ts"]
    ]


async def reconnect_during_outage(h: Harness, failures: int) -> dict[str, Any]:
    """Expire Acme, then reconnect it while chat.postMessage answers 503 ``failures`` times."""
    notice = await expire_acme(h)
    link = await h.reconnect_link(notice, user="U2")
    h.slack.fail("chat.postMessage", error="service_unavailable", status=503, times=failures)
    async with h.browser() as browser:
        page = await browser.get(link)
    assert page.status_code == 200 and "reconnected" in page.text
    return notice


async def test_a_slack_outage_during_a_reconnect_still_ends_with_the_thread_reply(
    harness: Harness,
) -> None:
    notice = await reconnect_during_outage(harness, failures=3)
    await harness.drain()
    assert thread_replies(harness, notice) == []
    rows = await harness.rows("SELECT status, last_error FROM outbox WHERE kind = 'slack.reply'")
    assert rows == [("pending", "Slack answered “HTTP 503”")]

    for _ in range(3):  # 5 s, 30 s, 2 min of backoff, on the test's clock
        harness.clock.advance(timedelta(minutes=3))
        await harness.drain()

    (reply,) = thread_replies(harness, notice)
    assert reply["text"].startswith("LinkedIn · Acme Corp reconnected by <@U2>")
    (update,) = harness.slack.successful_calls("chat.update")
    assert "All reconnected" in blocks_text(update.args)
    tries = [c for c in harness.slack.calls_to("chat.postMessage") if c.args.get("thread_ts")]
    keys = {c.args["metadata"]["event_payload"]["key"] for c in tries}
    assert len(tries) == 4 and len(keys) == 1  # one idempotency key on every try


async def test_a_confirmation_survives_a_restart(
    database_url: str, slack: Any, linkedin: Any, clock: Any
) -> None:
    env = bot_env(database_url, slack, linkedin)
    async with running_bot(env, slack, linkedin, clock) as h:
        notice = await reconnect_during_outage(h, failures=1)
        await h.drain()
        assert thread_replies(h, notice) == []

    clock.advance(timedelta(minutes=1))
    async with running_bot(env, slack, linkedin, clock) as h:
        await h.drain()
        (reply,) = thread_replies(h, notice)
    assert "reconnected by <@U2>" in reply["text"]


async def test_ratelimited_waits_for_retry_after(harness: Harness) -> None:
    notice = await expire_acme(harness)
    link = await harness.reconnect_link(notice, user="U2")
    harness.slack.fail("chat.postMessage", error="ratelimited", status=429, retry_after=120)
    async with harness.browser() as browser:
        await browser.get(link)
    await harness.drain()
    harness.clock.advance(timedelta(seconds=90))  # past the first backoff, not Retry-After
    await harness.drain()
    assert thread_replies(harness, notice) == []
    harness.clock.advance(timedelta(seconds=31))
    await harness.drain()
    assert len(thread_replies(harness, notice)) == 1


async def test_the_notice_goes_before_its_thread_and_says_what_changed_meanwhile(
    harness: Harness,
) -> None:
    await connect(harness)
    harness.clock.advance(timedelta(days=61))
    harness.slack.fail("chat.postMessage", error="service_unavailable", status=503, times=1)
    assert (await harness.scan()).notices_queued == 1
    assert harness.slack.successful_calls("chat.postMessage")[-1].args["channel"] == "U1"

    # Reconnected before the notice could be posted: its reply waits behind it in order.
    link = await harness.services.links.start(TEAM, "U2", "", 1)
    async with harness.browser() as browser:
        await browser.get(link.url)
    await harness.drain()
    assert harness.slack.successful_calls("chat.postMessage")[-1].args["channel"] == "U1"

    harness.clock.advance(timedelta(seconds=10))
    await harness.drain()
    posted, reply = harness.slack.successful_calls("chat.postMessage")[-2:]
    assert posted.args["channel"] == CHANNEL and "All reconnected" in blocks_text(posted.args)
    assert reply.args["thread_ts"] == posted.response["ts"]
    assert "reconnected by <@U2>" in reply.args["text"]


async def test_not_in_channel_stops_and_shows_on_the_app_home(harness: Harness) -> None:
    await connect(harness)
    harness.clock.advance(timedelta(days=61))
    harness.slack.fail("chat.postMessage", error="not_in_channel", status=200, retry_after=None)
    assert (await harness.scan()).notices_queued == 1
    harness.clock.advance(timedelta(hours=2))
    await harness.scan()
    notice_tries = [
        c for c in harness.slack.calls_to("chat.postMessage") if c.args["channel"] == CHANNEL
    ]
    assert len(notice_tries) == 1  # a permanent refusal is not retried

    health = (await harness.http.get("/healthz")).json()
    assert health["ok"] is True and health["delivery"] == {"pending": 0, "failing": 1}

    body, _ = slack_requests.app_home_opened(user_id="U3", team_id=TEAM)
    await harness.send(body)
    (publish,) = await harness.slack.wait_for("views.publish")
    assert (
        f"Notices can't be posted to <#{CHANNEL}>: the bot is not in the channel. "
        "Invite it or choose another channel."
    ) in blocks_text(publish.args["view"])

    # The person invites the bot and clicks "Try again".
    await harness.click(
        ids.RETRY_DELIVERIES, "retry", user="U3", view=slack_requests.home_view(team_id=TEAM)
    )
    await harness.slack.wait_for("views.publish", 2)
    await harness.drain()
    posted = harness.slack.successful_calls("chat.postMessage")[-1]
    assert posted.args["channel"] == CHANNEL and "reconnecting" in posted.args["text"]
    assert (await harness.http.get("/healthz")).json()["delivery"] == {"pending": 0, "failing": 0}
    (publish,) = (await harness.slack.wait_for("views.publish", 2))[-1:]
    assert "can't be posted" not in blocks_text(publish.args["view"])


async def test_choosing_another_channel_posts_what_failed_there(harness: Harness) -> None:
    await connect(harness)
    harness.clock.advance(timedelta(days=61))
    harness.slack.fail("chat.postMessage", error="is_archived", status=200, retry_after=None)
    await harness.scan()
    harness.slack.add_user("U3", admin=True)  # settings are for admins by default
    harness.slack.add_channel("C0NEW", "new")
    await harness.click(
        ids.SET_NOTIFY_CHANNEL,
        None,
        user="U3",
        view=slack_requests.home_view(team_id=TEAM),
        action_type="conversations_select",
        action_fields={"selected_conversation": "C0NEW"},
    )
    await harness.slack.wait_for("views.publish")
    await harness.drain()
    posted = harness.slack.successful_calls("chat.postMessage")[-1]
    assert posted.args["channel"] == "C0NEW" and "reconnecting" in posted.args["text"]
    assert await harness.rows("SELECT channel, ts IS NOT NULL FROM notices") == [("C0NEW", True)]
    assert (await harness.scan()).notices_queued == 0  # the episode's notice stays the one


async def test_a_transient_failure_gives_up_after_a_day_and_says_so(harness: Harness) -> None:
    await connect(harness)
    harness.clock.advance(timedelta(days=61))
    harness.slack.fail("chat.postMessage", error="internal_error", status=500, times=100)
    await harness.scan()
    for _ in range(30):
        harness.clock.advance(timedelta(hours=1))
        await harness.drain()
    (row,) = await harness.rows("SELECT status, last_error FROM outbox WHERE kind = 'slack.notice'")
    assert row == ("failed", "Slack answered “HTTP 500”")
