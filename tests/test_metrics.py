"""`GET /metrics`: what Prometheus scrapes, read with prometheus-client's own parser."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from api_support import new_key
from conftest import Harness, bot_env, running_bot
from openapi_check import checked_api
from prometheus_client.parser import text_string_to_metric_families
from test_loop import connect
from test_renewal import X_ACCOUNT, x_source

from bot.services.renewal import BACKOFF_START

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample as {(name, sorted labels): value}."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(h: Harness, **headers: str) -> Samples:
    response = await h.http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_sources_by_network_and_status_and_the_outbox_backlog(harness: Harness) -> None:
    await connect(harness)
    seen = await scrape(harness)
    assert seen[("sources_bot_sources", (("network", "linkedin"), ("status", "active")))] == 1
    assert seen[("sources_bot_outbox_pending", ())] == 0

    harness.slack.fail("chat.postMessage", error="service_unavailable", status=503, times=5)
    harness.clock.advance(timedelta(days=61))
    await harness.scan()  # expires Acme; its notice fails once and waits for a retry
    harness.clock.advance(timedelta(seconds=3))
    seen = await scrape(harness)
    assert seen[("sources_bot_sources", (("network", "linkedin"), ("status", "expired")))] == 1
    assert ("sources_bot_sources", (("network", "linkedin"), ("status", "active"))) not in seen
    assert seen[("sources_bot_outbox_pending", ())] == 1
    assert seen[("sources_bot_outbox_failing", ())] == 1
    assert seen[("sources_bot_outbox_oldest_pending_seconds", ())] == 3


async def test_metrics_token_is_asked_for_when_set(
    database_url: str, slack: Any, linkedin: Any, clock: Any
) -> None:
    env = bot_env(database_url, slack, linkedin) | {"METRICS_TOKEN": "scrape-me-9a1"}
    async with running_bot(env, slack, linkedin, clock) as h:
        refused = await h.http.get("/metrics")
        wrong = await h.http.get("/metrics", headers={"authorization": "Bearer nope"})
        seen = await scrape(h, authorization="Bearer scrape-me-9a1")
    assert refused.status_code == 401 and wrong.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert "scrape-me-9a1" not in refused.text
    assert ("sources_bot_outbox_pending", ()) in seen


def counted(seen: Samples, counter: str) -> dict[tuple[tuple[str, str], ...], float]:
    """A counter's values by their labels (its ``_total`` samples)."""
    return {labels: value for (name, labels), value in seen.items() if name == f"{counter}_total"}


# --- counters: each counted once, where it happens ---------------------------------------------


async def test_renewals_and_network_errors_by_network_and_outcome(network_bot: Any) -> None:
    async with network_bot("x") as (h, fake):
        await x_source(h, fake)
        h.clock.advance(timedelta(minutes=110))  # inside X's last fifteen minutes
        fake.fail("refresh", 503)
        assert len((await h.scan()).transient) == 1
        seen = await scrape(h)
        assert counted(seen, "sources_bot_renewals") == {
            (("network", "x"), ("outcome", "transient")): 1
        }
        assert counted(seen, "sources_bot_network_api_errors") == {
            (("kind", "transient"), ("network", "x")): 1
        }

        h.clock.advance(BACKOFF_START)
        assert (await h.scan()).renewed == ["X · Acme on X"]
        seen = await scrape(h)
        assert counted(seen, "sources_bot_renewals") == {
            (("network", "x"), ("outcome", "transient")): 1,
            (("network", "x"), ("outcome", "renewed")): 1,
        }
        assert counted(seen, "sources_bot_network_api_errors") == {
            (("kind", "transient"), ("network", "x")): 1
        }
        assert seen[("sources_bot_scan_duration_seconds_count", ())] == 2
        assert seen[("sources_bot_scan_duration_seconds_sum", ())] > 0
        # A scan of one source takes well under the first bucket's 0.1 s.
        assert seen[("sources_bot_scan_duration_seconds_bucket", (("le", "+Inf"),))] == 2


async def test_a_refused_renewal_counts_final_and_rejected(network_bot: Any) -> None:
    async with network_bot("x") as (h, fake):
        _, refresh = await x_source(h, fake)
        fake.revoke_token(refresh)
        h.clock.advance(timedelta(minutes=110))
        assert (await h.scan()).expired == ["X · Acme on X"]
        seen = await scrape(h)
    assert counted(seen, "sources_bot_renewals") == {(("network", "x"), ("outcome", "final")): 1}
    assert counted(seen, "sources_bot_network_api_errors") == {
        (("kind", "rejected"), ("network", "x")): 1
    }
    assert X_ACCOUNT not in str(seen)


async def test_a_renewal_asked_for_through_the_api_is_counted_too(network_bot: Any) -> None:
    """The count is the renewal service's, not the scan's: the API's token endpoint renews
    through it as well (and no scan ran, so none was timed)."""
    async with network_bot("x") as (h, fake):
        source_id, _ = await x_source(h, fake)
        async with checked_api(h, await new_key(h)) as api:
            answer = await api.post(
                f"/api/v1/sources/{source_id}/token", json={"force_refresh": True}
            )
        assert answer.status_code == 200
        seen = await scrape(h)
    assert counted(seen, "sources_bot_renewals") == {(("network", "x"), ("outcome", "renewed")): 1}
    assert seen[("sources_bot_scan_duration_seconds_count", ())] == 0


async def test_notices_and_digests_posted_by_kind_once_each(harness: Harness) -> None:
    await connect(harness)  # its confirmation goes out through the outbox too
    harness.clock.advance(timedelta(days=61))
    assert (await harness.scan()).notices_queued == 1
    harness.clock.set(harness.clock.now().replace(hour=9, minute=2))
    assert await harness.digest_due() == 1

    sent = counted(await scrape(harness), "sources_bot_slack_sent")
    assert sent[(("kind", "notice"),)] == 1
    assert sent[(("kind", "digest"),)] == 1
    # Every message the outbox got Slack to take, counted once: no more, no fewer.
    calls = harness.slack.successful_calls
    assert sum(sent.values()) == len(calls("chat.postMessage")) + len(calls("chat.update"))


async def test_slack_errors_by_code_and_the_message_not_counted_as_sent(
    harness: Harness,
) -> None:
    await connect(harness)
    before = counted(await scrape(harness), "sources_bot_slack_sent")
    harness.slack.fail("chat.postMessage", error="channel_not_found", status=200, retry_after=None)
    harness.clock.advance(timedelta(days=61))
    await harness.scan()  # the expiry notice is refused for good

    seen = await scrape(harness)
    assert counted(seen, "sources_bot_slack_api_errors") == {(("error", "channel_not_found"),): 1}
    assert counted(seen, "sources_bot_slack_sent") == before  # the notice is not among them
    assert (("kind", "notice"),) not in before

    # A listener's own call, outside the outbox, is counted by the same gateway.
    harness.slack.fail("views.publish", error="invalid_blocks", status=200, retry_after=None)
    home = {"type": "app_home_opened", "user": "U1", "channel": "DU1", "tab": "home"}
    assert (await harness.event(home | {"event_ts": "1.0"})).status_code == 200
    seen = await eventually(harness, "sources_bot_slack_api_errors", (("error", "invalid_blocks"),))
    assert counted(seen, "sources_bot_slack_api_errors") == {
        (("error", "channel_not_found"),): 1,
        (("error", "invalid_blocks"),): 1,
    }


async def eventually(h: Harness, counter: str, labels: tuple[tuple[str, str], ...]) -> Samples:
    """Scrape until ``counter{labels}`` shows up (work a listener does after its ack)."""
    async with asyncio.timeout(5):
        while labels not in counted(seen := await scrape(h), counter):  # noqa: ASYNC110 - polls HTTP
            await asyncio.sleep(0.05)
    return seen
