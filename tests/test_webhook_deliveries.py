"""Webhook deliveries end to end: events appended as services append them, delivered by the
outbox dispatcher to a receiver on 127.0.0.1 that verifies each with ``standardwebhooks``.

The background dispatcher is stopped: each test delivers with ``h.drain()`` on its own clock,
and advances the clock to make retries due (no sleeps).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_support import add_sources, append_event
from conftest import CHANNEL, TEAM, Harness, bot_env, running_bot
from fakes.oauth_provider import FakeOAuthProvider
from fakes.slack_api import FakeSlack
from fakes.webhook_receiver import WebhookReceiver

from bot.clock import FrozenClock
from bot.delivery.webhooks import WEBHOOK_RETRIES
from bot.services.events import EVENT_TYPES, EventType
from bot.services.sources import source_json

TIMEOUT = 0.3  # WEBHOOK_TIMEOUT_SECONDS in these tests: a hanging receiver costs 0.3 s


@pytest.fixture
async def receiver(clock: FrozenClock) -> AsyncIterator[WebhookReceiver]:
    fake = WebhookReceiver(now=clock.now)
    await fake.start()
    yield fake
    await fake.stop()
    assert fake.violations == [], "deliveries failed verification"


@pytest.fixture
async def hooked(
    database_url: str,
    slack: FakeSlack,
    linkedin: FakeOAuthProvider,
    clock: FrozenClock,
    receiver: WebhookReceiver,
) -> AsyncIterator[Harness]:
    """The bot with one endpoint (the receiver) for every event of TEAM."""
    env = {**bot_env(database_url, slack, linkedin), "WEBHOOK_TIMEOUT_SECONDS": str(TIMEOUT)}
    async with running_bot(env, slack, linkedin, clock) as h:
        await h.services.dispatcher.stop()
        await h.services.workspaces.ensure(TEAM, "Acme")
        added = await h.services.webhooks.add(TEAM, receiver.url)
        receiver.secret = added.secret
        yield h


async def endpoint_id(h: Harness) -> int:
    (endpoint,) = await h.services.webhooks.endpoints(TEAM)
    return endpoint.id


async def drain_for(h: Harness, span: timedelta, step: timedelta) -> None:
    """Let ``span`` pass in ``step``s, delivering what is due after each."""
    passed = timedelta(0)
    while passed < span:
        h.clock.advance(step)
        passed += step
        await h.drain()


# --- what arrives ------------------------------------------------------------------------


async def test_each_event_type_reaches_the_receiver_once_per_occurrence_signed(
    hooked: Harness, receiver: WebhookReceiver, linkedin: FakeOAuthProvider
) -> None:
    (source_id,) = await add_sources(hooked, {"account_id": "urn-a", "name": "Acme"})
    await hooked.drain()
    (imported,) = receiver.delivered  # an import announces each new source (issue 7)
    assert imported.json["type"] == "source.connected"
    assert imported.json["data"]["payload"] == {"imported": True}
    appended = {}
    for kind in EventType:
        appended[await append_event(hooked, kind, source_id, {"n": str(kind)})] = str(kind)
    again = await append_event(hooked, EventType.RENEWED, source_id)
    await hooked.drain()

    delivered = receiver.delivered[1:]
    assert [r.webhook_id for r in delivered] == [*appended, again]  # in order, once each
    assert sorted(r.json["type"] for r in delivered) == sorted([*EVENT_TYPES, "source.renewed"])
    info = await hooked.services.sources.get(TEAM, source_id)
    assert info is not None
    for request in delivered:
        body = request.json
        assert body["data"]["event_id"] == request.webhook_id
        assert body["data"]["source"] == source_json(info)
        assert body["timestamp"] == hooked.clock.now().isoformat()
        assert request.signature is not None and request.signature.startswith("v1,")
        assert request.timestamp == str(int(hooked.clock.now().timestamp()))
    by_id = {r.webhook_id: r.json for r in delivered}
    assert all(by_id[event]["data"]["payload"] == {"n": kind} for event, kind in appended.items())
    assert "secret-token-of" not in json.dumps([r.body for r in receiver.requests])
    attempts = await hooked.rows("SELECT status_code, duration_ms FROM webhook_attempts")
    assert [status for status, _ in attempts] == [200] * len(receiver.delivered)


async def test_the_library_verifies_deliveries_against_the_wall_clock(
    hooked: Harness, receiver: WebhookReceiver
) -> None:
    hooked.clock.set(datetime.now(UTC))
    receiver.now = None  # plain Webhook.verify: timestamp within 5 minutes of real time
    event = await append_event(hooked, EventType.EXPIRED, None)
    await hooked.drain()

    assert receiver.delivered_ids() == [event]


async def test_a_delivery_signed_with_another_secret_fails_verification(
    hooked: Harness, receiver: WebhookReceiver
) -> None:
    receiver.secret = (await hooked.services.webhooks.add(TEAM, receiver.url + "?b")).secret
    await hooked.services.webhooks.remove((await hooked.services.webhooks.endpoints(TEAM))[1].id)
    await append_event(hooked, EventType.EXPIRED, None)
    await hooked.drain()

    assert receiver.delivered == []
    assert receiver.violations == ["verification failed: No matching signature found"]
    receiver.violations.clear()


async def test_only_the_event_types_an_endpoint_asked_for_are_sent(
    hooked: Harness, receiver: WebhookReceiver
) -> None:
    await hooked.services.webhooks.remove(await endpoint_id(hooked))
    added = await hooked.services.webhooks.add(TEAM, receiver.url, ["source.expired"])
    receiver.secret = added.secret
    await append_event(hooked, EventType.RENEWED, None)
    expired = await append_event(hooked, EventType.EXPIRED, None)
    await hooked.drain()

    assert receiver.delivered_ids() == [expired]


# --- failures and retries ----------------------------------------------------------------


async def test_a_receiver_down_for_a_while_gets_everything_after_in_order_per_source(
    hooked: Harness, receiver: WebhookReceiver
) -> None:
    a, b = await add_sources(hooked, {"account_id": "urn-a"}, {"account_id": "urn-b"})
    await hooked.drain()
    announced = set(receiver.delivered_ids())  # the import's (issue 7)
    start = len(receiver.requests)
    receiver.answer(500)
    order = []
    for source in (a, b, a, b, a):
        order.append((source, await append_event(hooked, EventType.RENEWED, source)))
        hooked.clock.advance(timedelta(seconds=1))
    await hooked.drain()
    await drain_for(hooked, timedelta(hours=2), timedelta(minutes=10))  # still down
    failed_tries = len(receiver.requests)
    receiver.answer(200)
    await drain_for(hooked, timedelta(hours=5), timedelta(minutes=30))

    delivered = [event for event in receiver.delivered_ids() if event not in announced]
    assert sorted(delivered) == sorted(event for _, event in order)
    assert len(set(delivered)) == len(delivered)  # no event twice
    for source in (a, b):
        assert [e for e in delivered if (source, e) in order] == [
            e for s, e in order if s == source
        ]
    # While down, only the first event of each source was tried (the rest waited behind it),
    # every try with its event's id.
    tried_while_down = {r.webhook_id for r in receiver.requests[start:failed_tries]}
    assert tried_while_down == {order[0][1], order[1][1]}


async def test_retries_follow_the_schedule_then_the_delivery_is_given_up(
    hooked: Harness, receiver: WebhookReceiver
) -> None:
    receiver.answer(500, body="down for maintenance")
    start = hooked.clock.now()
    event = await append_event(hooked, EventType.EXPIRED, None)
    await hooked.drain()
    tried_at = [start]
    for delay in WEBHOOK_RETRIES.delays:
        hooked.clock.advance(delay - timedelta(seconds=1))
        await hooked.drain()
        assert len(receiver.requests) == len(tried_at), "tried before it was due"
        hooked.clock.advance(timedelta(seconds=1))
        await hooked.drain()
        tried_at.append(hooked.clock.now())
        assert len(receiver.requests) == len(tried_at), "not tried when due"
    hooked.clock.advance(timedelta(days=1))
    await hooked.drain()

    assert len(receiver.requests) == 8  # the first try and seven retries, over 27.6 hours
    assert {r.webhook_id for r in receiver.requests} == {event}
    assert tried_at[-1] - start > timedelta(hours=24)
    (delivery,) = await hooked.services.webhooks.deliveries()
    assert delivery.status == "failed"
    assert delivery.attempts == 8
    assert delivery.last_status_code == 500
    attempts = await hooked.services.webhooks.attempts(delivery.id)
    assert [a.at for a in attempts] == tried_at
    assert {(a.status_code, a.response) for a in attempts} == {(500, "down for maintenance")}
    assert all(a.duration_ms >= 0 and a.error is None for a in attempts)
    (endpoint,) = await hooked.services.webhooks.endpoints(TEAM)
    assert endpoint.disabled_at is None  # 27.6 hours of failures is not 3 days


async def test_retry_after_from_the_receiver_is_honoured(
    hooked: Harness, receiver: WebhookReceiver
) -> None:
    receiver.answer(503, times=1, headers={"Retry-After": "600"})
    event = await append_event(hooked, EventType.EXPIRED, None)
    await hooked.drain()
    hooked.clock.advance(timedelta(seconds=599))
    await hooked.drain()
    assert receiver.delivered == []
    hooked.clock.advance(timedelta(seconds=1))
    await hooked.drain()

    assert receiver.delivered_ids() == [event]


async def test_a_hanging_receiver_is_cut_off_and_tried_again(
    hooked: Harness, receiver: WebhookReceiver
) -> None:
    receiver.hang(times=1)
    event = await append_event(hooked, EventType.EXPIRED, None)
    await hooked.drain()
    (delivery,) = await hooked.services.webhooks.deliveries(failed=True)
    assert delivery.status == "retrying"
    assert delivery.last_error == f"no answer within {TIMEOUT:g} s"
    hooked.clock.advance(timedelta(seconds=5))
    await hooked.drain()

    assert [r.webhook_id for r in receiver.requests] == [event, event]
    assert receiver.delivered_ids() == [event]
    rows = await hooked.rows("SELECT status_code, error, duration_ms FROM webhook_attempts")
    assert rows[0][:2] == (None, f"no answer within {TIMEOUT:g} s")
    assert rows[0][2] >= TIMEOUT * 1000 * 0.9
    assert rows[1][:2] == (200, None)


async def test_an_attempt_keeps_the_first_500_bytes_of_the_answer(
    hooked: Harness, receiver: WebhookReceiver
) -> None:
    receiver.answer(500, times=1, body="é" * 2000)
    await append_event(hooked, EventType.EXPIRED, None)
    await hooked.drain()

    ((response,),) = await hooked.rows("SELECT response FROM webhook_attempts")
    assert response == "é" * 250  # 500 bytes of two-byte characters


# --- disabling ---------------------------------------------------------------------------


def notices_about_webhooks(slack: FakeSlack) -> list[Any]:
    return [c for c in slack.calls_to("chat.postMessage") if "Webhook" in c.args.get("text", "")]


async def test_410_gone_stops_retrying_and_disables_the_endpoint(
    hooked: Harness, receiver: WebhookReceiver, slack: FakeSlack
) -> None:
    a, b = await add_sources(hooked, {"account_id": "urn-a"}, {"account_id": "urn-b"})
    receiver.answer(410)
    await append_event(hooked, EventType.RENEWED, a)
    await append_event(hooked, EventType.RENEWED, a)
    await append_event(hooked, EventType.RENEWED, b)
    await hooked.drain()
    await drain_for(hooked, timedelta(hours=30), timedelta(hours=1))
    await append_event(hooked, EventType.EXPIRED, a)  # after: not even queued
    await hooked.drain()

    # The first try of each source went out together; the 410s stopped everything after.
    assert len(receiver.requests) == 2
    (disabled,) = await hooked.services.webhooks.disabled_endpoints(TEAM)
    assert disabled.url == receiver.url
    assert disabled.disabled_reason == "it answered 410 Gone"
    assert {d.status for d in await hooked.services.webhooks.deliveries()} == {"failed"}
    (message,) = notices_about_webhooks(slack)
    assert message.args["channel"] == CHANNEL
    assert receiver.url.split("//")[1] in json.dumps(message.args["blocks"])
    assert "410" in json.dumps(message.args["blocks"])


async def test_three_days_of_failures_disable_the_endpoint_and_say_so_once(
    hooked: Harness, receiver: WebhookReceiver, slack: FakeSlack
) -> None:
    receiver.answer(500)
    start = hooked.clock.now()
    hours = iter(range(1000))

    async def every_3_hours(count: int) -> None:
        """An event every 3 hours, each of another source (so each is tried at once)."""
        for _ in range(count):
            await append_event(hooked, EventType.RENEWED, next(hours))
            await hooked.drain()
            hooked.clock.advance(timedelta(hours=3))

    await every_3_hours(24)  # failing from 0 h to 69 h
    assert await hooked.services.webhooks.disabled_endpoints(TEAM) == []
    await every_3_hours(1)  # fails at 72 h
    (disabled,) = await hooked.services.webhooks.disabled_endpoints(TEAM)
    assert disabled.disabled_reason is not None
    assert disabled.disabled_reason.startswith("it kept failing for 3 days")
    assert disabled.disabled_at is not None
    assert disabled.disabled_at - start == timedelta(hours=72)
    tries = len(receiver.requests)
    await every_3_hours(16)

    assert len(receiver.requests) == tries  # nothing more is sent to it
    (message,) = notices_about_webhooks(slack)  # said once
    assert message.args["channel"] == CHANNEL
    assert "3 days" in message.args["text"]
    assert f"webhooks enable {disabled.id}" in json.dumps(message.args["blocks"])

    await hooked.services.webhooks.enable(disabled.id)
    receiver.answer(200)
    event = await append_event(hooked, EventType.RESTORED, 7)
    await hooked.drain()
    assert receiver.delivered_ids() == [event]


async def test_a_removed_endpoint_gets_nothing_more(
    hooked: Harness, receiver: WebhookReceiver
) -> None:
    receiver.answer(500)
    await append_event(hooked, EventType.EXPIRED, None)
    await hooked.drain()
    await hooked.services.webhooks.remove(await endpoint_id(hooked))
    await append_event(hooked, EventType.RESTORED, None)
    await drain_for(hooked, timedelta(hours=3), timedelta(minutes=30))

    assert len(receiver.requests) == 1
    assert [d.status for d in await hooked.services.webhooks.deliveries()] == ["dropped"]


# --- redelivery --------------------------------------------------------------------------


async def test_redeliver_sends_the_event_again_with_the_same_webhook_id(
    hooked: Harness, receiver: WebhookReceiver
) -> None:
    event = await append_event(hooked, EventType.EXPIRED, None)
    await hooked.drain()
    (first,) = await hooked.services.webhooks.deliveries()
    hooked.clock.advance(timedelta(hours=1))
    again = await hooked.services.webhooks.redeliver(first.id)
    await hooked.drain()

    assert again.id != first.id
    assert receiver.delivered_ids() == [event, event]
    original, repeated = receiver.delivered
    assert original.json == repeated.json  # the same body; only the timestamp header moved
    assert int(str(repeated.timestamp)) - int(str(original.timestamp)) == 3600
    statuses = {d.id: d.status for d in await hooked.services.webhooks.deliveries()}
    assert statuses == {first.id: "delivered", again.id: "delivered"}


async def test_redelivery_to_a_disabled_endpoint_is_refused_until_it_is_enabled(
    hooked: Harness, receiver: WebhookReceiver
) -> None:
    from bot.services.admin import AdminError

    receiver.answer(410, times=1)
    event = await append_event(hooked, EventType.EXPIRED, None)
    await hooked.drain()
    (delivery,) = await hooked.services.webhooks.deliveries(failed=True)
    with pytest.raises(AdminError, match="webhooks enable"):
        await hooked.services.webhooks.redeliver(delivery.id)
    await hooked.services.webhooks.enable(await endpoint_id(hooked))
    await hooked.services.webhooks.redeliver(delivery.id)
    await hooked.drain()

    assert receiver.delivered_ids() == [event]


# --- checks on what operators give -------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/hook", "http"),
        ("javascript:alert(1)", "http"),
        ("https://user:pass@example.com/hook", "credentials"),
        ("https://token@example.com/hook", "credentials"),
        ("https:///hook", "host"),
        ("https://example.com:99999/hook", "valid"),
        ("https://exa mple.com/hook", "spaces"),
    ],
)
async def test_only_plain_http_urls_are_accepted(hooked: Harness, url: str, why: str) -> None:
    from bot.services.admin import AdminError

    with pytest.raises(AdminError, match=why):
        await hooked.services.webhooks.add(TEAM, url)


@pytest.mark.parametrize(
    "check",
    [
        lambda h: h.services.webhooks.add(TEAM, "https://example.com/h", ["source.exploded"]),
        lambda h: h.services.webhooks.add(TEAM, "https://example.com/h", [" "]),
        lambda h: h.services.webhooks.add("T0NOPE", "https://example.com/h"),
        lambda h: h.services.webhooks.remove(999),
        lambda h: h.services.webhooks.redeliver(999),
    ],
)
async def test_bad_requests_are_refused_with_a_reason(
    hooked: Harness, check: Callable[[Harness], Any]
) -> None:
    from bot.services.admin import AdminError

    with pytest.raises(AdminError):
        await check(hooked)
    assert len(await hooked.services.webhooks.endpoints()) == 1
