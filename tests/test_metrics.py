"""`GET /metrics`: what Prometheus scrapes, read with prometheus-client's own parser."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conftest import Harness, bot_env, running_bot
from prometheus_client.parser import text_string_to_metric_families
from test_loop import connect

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample as {(name, sorted labels): value}."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(
    h: Harness, **headers: str
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
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
