"""Benchmark (not a test): the time of a `GET /metrics` scrape with 10,000 sources.

Builds the app as tests/conftest.py does (a fake Slack on 127.0.0.1; SQLite in a temporary
file, or the PostgreSQL database given with --database-url, emptied first), imports 10,000
sources through the importer (five networks, 100 workspaces; a tenth expired, a fifth expiring,
the rest active), queues a few outbox rows so the backlog has something to find, and fills the
counters with the label sets a busy process has. Then it times scrapes, in process through
httpx2's ASGI transport (the app's middleware and route, as a real request).

Measured in the same run, interleaved round by round:

- the floor: the raw work a scrape cannot avoid, on a Core connection of the same engine:
  the ``GROUP BY network, status`` statement, then ``generate_latest`` of an empty registry;
- ``/healthz`` through the same transport: what any request costs here, for reference;
- ``/metrics``: the sources gauge (the same statement), the outbox backlog (three more), and
  the text of every metric.

Medians over rounds of consecutive scrapes; the ratio is /metrics over the floor.

Run from the repository root:
    .venv/bin/python bench/bench_metrics.py [--sources N] [--rounds N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the bot, and tests/fakes

import httpx2  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from fakes.slack_api import FakeSlack  # noqa: E402
from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bot.app import create_app  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.delivery import outbox  # noqa: E402
from bot.metrics import Metrics  # noqa: E402
from bot.services.importer import import_records, parse_records  # noqa: E402
from bot.store.db import create_engine  # noqa: E402

PUBLIC_URL = "http://bot.test"
NETWORKS = ("linkedin", "x", "youtube", "facebook", "pinterest")
WORKSPACES = 100
PENDING = 20  # outbox rows waiting, for the backlog's statements
GROUP_BY = "SELECT network, status, count(*) FROM sources GROUP BY network, status"


def records(now: datetime, count: int) -> list[dict[str, Any]]:
    out = []
    for n in range(count):
        if n % 10 == 0:
            expires = now - timedelta(days=1 + n % 5)
        elif n % 10 in (1, 2):
            expires = now + timedelta(days=1 + n % 6, hours=3)
        else:
            expires = now + timedelta(days=20 + n % 40)
        out.append(
            {
                "network": NETWORKS[n % len(NETWORKS)],
                "account_id": f"bench-account-{n}",
                "name": f"Page {n:05d}",
                "access_token": f"bench-access-{n}",
                "expires_at": expires.isoformat(),
                "workspace": f"T{n % WORKSPACES:04d}",
            }
        )
    return out


def busy(metrics: Metrics) -> None:
    """The counters' label sets after a while of work (values do not change the cost)."""
    for network in NETWORKS:
        for outcome in ("renewed", "transient", "final", "held", "not_due"):
            metrics.renewals.labels(network=network, outcome=outcome).inc()
        for kind in ("transient", "rejected"):
            metrics.network_errors.labels(network=network, kind=kind).inc()
    for kind in ("notice", "notice_update", "reply", "message", "digest"):
        metrics.slack_sent.labels(kind=kind).inc()
    for error in ("ratelimited", "HTTP 503", "channel_not_found", "not_in_channel"):
        metrics.slack_errors.labels(error=error).inc()
    for outcome in ("delivered", "retrying", "failed"):
        metrics.webhook_deliveries.labels(outcome=outcome).inc()
    metrics.scan_duration.observe(3.2)


async def empty_database(url: str) -> None:
    if url.startswith("sqlite"):
        return
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def seconds_each(call: Callable[[], Awaitable[Any]], times: int) -> float:
    start = time.perf_counter()
    for _ in range(times):
        await call()
    return (time.perf_counter() - start) / times


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="sources-bot-bench-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bot.db"
        await empty_database(url)
        slack = FakeSlack(team_id="T0000")
        await slack.start()
        settings = Settings.from_env(
            {
                "SLACK_SIGNING_SECRET": "bench-signing-secret",
                "SLACK_BOT_TOKEN": "xoxb-bench-token",
                "SLACK_API_URL": slack.api_url,
                "DATABASE_URL": url,
                "PUBLIC_URL": PUBLIC_URL,
                "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            }
        )
        bot = create_app(settings, scheduler=False)
        await bot.start()
        await bot.services.dispatcher.stop()  # the queued rows stay pending
        http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=bot.asgi), base_url=PUBLIC_URL)
        try:
            await run(bot, http, args)
        finally:
            await http.aclose()
            await bot.stop()
            await slack.stop()


async def run(bot: Any, http: httpx2.AsyncClient, args: argparse.Namespace) -> None:
    services = bot.services
    ctx = services.ctx
    start = time.perf_counter()
    parsed = parse_records(records(ctx.clock.now(), args.sources), ctx.catalogue)
    created, _ = await import_records(ctx, services.workspaces, parsed)
    print(f"import: {created} sources in {time.perf_counter() - start:.1f} s ({bot_db(args)})")
    now = ctx.clock.now()
    async with ctx.db.begin() as session:
        await outbox.enqueue_many(
            session,
            [
                outbox.row(
                    workspace_id=f"T{n:04d}",
                    kind=outbox.MESSAGE,
                    key=f"bench-{n}",
                    order_key=f"bench-{n}",
                    payload={"channel": "C0BENCH", "text": f"bench {n}", "blocks": []},
                    now=now,
                    target="C0BENCH",
                )
                for n in range(PENDING)
            ],
        )
    busy(ctx.metrics)

    engine = bot.engine

    async def floor() -> None:
        async with engine.connect() as connection:
            (await connection.execute(text(GROUP_BY))).all()
        generate_latest(CollectorRegistry())

    async def healthz() -> None:
        response = await http.get("/healthz")
        assert response.status_code == 200, response.text

    async def scrape() -> None:
        response = await http.get("/metrics")
        assert response.status_code == 200, response.text

    # Warm up each, and check what /metrics says against the database.
    for call in (floor, healthz, scrape):
        await seconds_each(call, 5)
    shown = check(await http.get("/metrics"), args.sources)
    print(f"/metrics: {shown} lines, {len(generate_latest(ctx.metrics.registry))} bytes")

    times: dict[str, list[float]] = {"floor": [], "healthz": [], "metrics": []}
    for _ in range(args.rounds):
        times["floor"].append(await seconds_each(floor, args.scrapes))
        times["healthz"].append(await seconds_each(healthz, args.scrapes))
        times["metrics"].append(await seconds_each(scrape, args.scrapes))
    med = {name: statistics.median(values) * 1000 for name, values in times.items()}
    spread = {name: (min(v) * 1000, max(v) * 1000) for name, v in times.items()}
    print(
        f"\n{args.rounds} rounds of {args.scrapes} consecutive calls each, medians of the "
        "rounds' mean time per call:"
    )
    rows = [
        ("floor: GROUP BY + generate_latest(empty)", "floor"),
        ("/healthz through the ASGI transport", "healthz"),
        ("/metrics through the ASGI transport", "metrics"),
    ]
    for label, name in rows:
        low, high = spread[name]
        print(f"  {label:<44} {med[name]:7.2f} ms   (rounds {low:.2f} to {high:.2f} ms)")
    print(f"\n/metrics over the floor: {med['metrics'] / med['floor']:.2f}x")
    extra = (med["metrics"] - med["healthz"]) / med["floor"]
    print(f"/metrics less /healthz over the floor: {extra:.2f}x")


def check(response: httpx2.Response, sources: int) -> int:
    """/metrics counts every source once and sees the queued rows."""
    assert response.status_code == 200, response.text
    total = 0.0
    pending = None
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "sources_bot_sources":
                total += sample.value
            if sample.name == "sources_bot_outbox_pending":
                pending = sample.value
    assert total == sources, (total, sources)
    assert pending == PENDING, pending
    return len(response.text.splitlines())


def bot_db(args: argparse.Namespace) -> str:
    return "PostgreSQL" if args.database_url else "SQLite file"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--scrapes", type=int, default=50, help="calls per round")
    parser.add_argument("--database-url", default=None)
    asyncio.run(main(parser.parse_args()))
