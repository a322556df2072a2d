"""Sending at Slack's pace: posts to one channel spaced as Slack wants them, and a rate limit
(429 with Retry-After) holding every row behind it until then, after which everything is
delivered, in order per thread."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conftest import CHANNEL, TEAM, Harness, blocks_text, bot_env, running_bot
from fakes.oauth_provider import FakeOAuthProvider
from fakes.slack_api import FakeSlack
from test_loop import connect

from bot.clock import FrozenClock
from bot.delivery import outbox

RETRY_AFTER = 30


async def queue_messages(h: Harness, channel: str, texts: list[str]) -> None:
    """Messages to ``channel``, each on its own (no order between them)."""
    now = h.clock.now()
    async with h.services.ctx.db.begin() as session:
        for text in texts:
            outbox.enqueue(
                session,
                workspace_id=TEAM,
                kind=outbox.MESSAGE,
                key=outbox.new_key("test"),
                order_key=outbox.new_key("test"),
                target=channel,
                payload={"channel": channel, "text": text, "blocks": []},
                now=now,
            )


def posted(slack: FakeSlack, channel: str) -> list[str]:
    return [c.args["text"] for c in slack.successful_calls("chat.postMessage")
            if c.args["channel"] == channel]  # fmt: skip


async def test_posts_to_one_channel_are_spaced_as_slack_wants_and_none_is_refused(
    database_url: str, slack: FakeSlack, linkedin: FakeOAuthProvider, clock: FrozenClock
) -> None:
    env = bot_env(database_url, slack, linkedin) | {"SLACK_CHANNEL_INTERVAL_SECONDS": "0.2"}
    slack.limit_channels(0.15)  # what Slack enforces, with room for this machine's jitter
    async with running_bot(env, slack, linkedin, clock) as h:
        await h.services.dispatcher.stop()  # this test's drain delivers alone
        await h.services.workspaces.ensure(TEAM)
        await queue_messages(h, "C1", [f"one {n}" for n in range(4)])
        await queue_messages(h, "C2", [f"two {n}" for n in range(4)])
        report = await h.drain()

    assert report.delivered == 8
    assert [c for c in slack.calls_to("chat.postMessage") if c.failed] == []
    assert posted(slack, "C1") == [f"one {n}" for n in range(4)]
    assert posted(slack, "C2") == [f"two {n}" for n in range(4)]


async def test_a_rate_limit_holds_every_row_then_all_goes_out_in_order_per_thread(
    harness: Harness,
) -> None:
    h, slack = harness, harness.slack
    await connect(h)
    # Only this test's drains deliver, so that what is tried when is the test's to say.
    await h.services.dispatcher.stop()
    h.clock.advance(timedelta(days=61))
    slack.rate_limit_everything(retry_after=RETRY_AFTER)
    before = len(slack.calls)
    assert (await h.scan()).notices_queued == 1
    # While the notice waits, its source is reconnected: the reply and the notice's update
    # queue behind it; two messages elsewhere queue on their own.
    link = await h.services.links.start(TEAM, "U2", "", 1)
    async with h.browser() as browser:
        assert (await browser.get(link.url)).status_code == 200
    await queue_messages(h, "U3", ["a DM"])
    for n in range(h.services.dispatcher.concurrency):  # more than are sent at once
        await queue_messages(h, f"C{n}", ["elsewhere"])
    queued = len(await h.rows("SELECT id FROM outbox WHERE status = 'pending'"))
    await h.drain()
    tried = len(slack.calls) - before
    # The first ones went out together and were refused; the rest waited without a try.
    assert 1 <= tried < queued - 2

    h.clock.advance(timedelta(seconds=RETRY_AFTER - 1))
    await h.drain()
    assert len(slack.calls) - before == tried  # Retry-After holds them all, not only the one

    h.clock.advance(timedelta(seconds=2))
    await h.drain()  # still limited: one more round of refusals, then held again
    assert len(slack.calls) - before > tried
    assert [c for c in slack.calls[before:] if not c.failed] == []

    slack.end_rate_limit()
    h.clock.advance(timedelta(seconds=RETRY_AFTER + 1))
    await h.drain()
    posts = [c for c in slack.successful_calls("chat.postMessage") if c.args["channel"] == CHANNEL]
    notice, reply = posts[-2:]
    assert "All reconnected" in blocks_text(notice.args)  # rendered when finally sent
    assert reply.args["thread_ts"] == notice.response["ts"]
    assert "reconnected by <@U2>" in reply.args["text"]
    assert posted(slack, "C0") == ["elsewhere"] and posted(slack, "U3") == ["a DM"]
    rows: list[Any] = await h.rows("SELECT status, count(*) FROM outbox GROUP BY status")
    assert rows == [("delivered", len(await h.rows("SELECT id FROM outbox")))]
