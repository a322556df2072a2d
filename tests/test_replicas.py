"""Several replicas on one PostgreSQL database: they split a round's work, and do each thing once.

Each replica is a whole bot (its own engine, pool and services) on the same database, the same
fake networks and the same fake Slack. SQLite serves one process, so these run on PostgreSQL
only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import (
    Harness,
    running_bot,
    slack_env,
)
from fakes.networks import FakeLinkedIn, FakeX
from fakes.slack_api import FakeSlack
from sqlalchemy import func, select
from test_scan import import_many, leases, refresh_tokens

from bot.app import create_app
from bot.clock import FrozenClock
from bot.config import Settings
from bot.services import scan_claims
from bot.services.leases import ClockLeases, DatabaseLeases
from bot.services.renewal import LEASE
from bot.services.scan import round_name
from bot.store.models import Source

REPLICAS = 3


@pytest.fixture
def postgres(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database; SQLite serves one process")
    return database_url


def replica_env(database_url: str, slack: FakeSlack, *fakes: Any, **extra: str) -> dict[str, str]:
    env = {**slack_env(database_url, slack), **extra}
    for fake in fakes:
        env |= fake.env()
    return env


@contextlib.asynccontextmanager
async def replicas(
    env: dict[str, str], slack: FakeSlack, fake: Any, clock: FrozenClock, count: int
) -> AsyncIterator[list[Harness]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(running_bot(env, slack, fake, clock))
            for _ in range(count)
        ]


def expired_record(n: int, now: datetime) -> dict[str, Any]:
    return {
        "network": "linkedin",
        "account_id": f"dead-{n}",
        "name": f"Dead Page {n}",
        "access_token": f"token-dead-{n}",
        "expires_at": (now - timedelta(hours=1)).isoformat(),
        "workspace": f"T7{n:03}",
    }


async def test_replicas_in_one_round_split_the_work_and_do_each_thing_once(
    postgres: str, slack: FakeSlack, clock: FrozenClock
) -> None:
    from bot.services.importer import import_records, parse_records

    async with FakeX() as x, FakeLinkedIn() as linkedin:
        x.now = linkedin.now = clock.now
        env = replica_env(postgres, slack, x, linkedin, NETWORK_CONCURRENCY="2")
        async with replicas(env, slack, x, clock, REPLICAS) as bots:
            first = bots[0]
            await first.services.workspaces.ensure("T0001")
            x_ids = await import_many(first, x, 45)
            firsts = refresh_tokens(x)
            checked = await import_many(first, linkedin, 20, prefix="page", refresh=False)
            await import_records(
                first.services.ctx,
                first.services.workspaces,
                parse_records(
                    [expired_record(n, clock.now()) for n in range(5)],
                    first.services.ctx.catalogue,
                ),
            )
            clock.advance(timedelta(minutes=110))  # every X source is due
            # Each replica claims only what its workers can start soon (here: at most 8 of
            # X's), so three replicas holding their first calls leave sources for each other.
            x.hold("refresh")
            linkedin.slow("userinfo", 0.05)

            scans = asyncio.gather(*(bot.services.scan.run("round:test") for bot in bots))
            # Two calls in flight per replica: all three replicas are renewing at once.
            await x.wait_for_held("refresh", REPLICAS * 2)
            x.let_go()
            x.slow("refresh", 0.05)
            reports = await scans
            for bot in bots:
                await bot.drain()

            renewed = [name for report in reports for name in report.renewed]
            assert len(renewed) == len(set(renewed)) == 45
            assert all(report.renewed for report in reports)  # each replica took a share
            assert Counter(x.refresh_uses(token) for token in firsts.values()) == {1: 45}
            identity = [r.authorization for r in linkedin.requests if r.key == "userinfo"]
            assert len(identity) == len(set(identity)) == 20  # each token checked once
            assert sum(report.notices_queued for report in reports) == 5
            assert len(slack.successful_calls("chat.postMessage")) == 5
            assert {owner for owner, _ in await leases(first, x_ids + checked)} == {None}
            async with first.services.ctx.read() as session:
                marks = set(
                    await session.scalars(select(Source.scan_round).where(Source.id.in_(x_ids)))
                )
            assert marks == {"round:test"}


async def test_leases_are_timed_by_the_database_so_skewed_clocks_agree(
    postgres: str, slack: FakeSlack
) -> None:
    now = datetime.now(UTC)
    async with FakeX() as x:
        env = Settings.from_env(replica_env(postgres, slack, x))
        # A's clock is three minutes behind the database's, B's six minutes ahead.
        behind = FrozenClock(now - timedelta(minutes=3))
        ahead = FrozenClock(now + LEASE + timedelta(minutes=1))
        a = create_app(env, clock=behind, scheduler=False, leases=DatabaseLeases())
        b = create_app(env, clock=ahead, scheduler=False, leases=DatabaseLeases())
        await a.start()
        await b.start()
        try:
            harness_a = Harness(a, slack, x, behind, None)  # type: ignore[arg-type]
            await a.services.workspaces.ensure("T0001")
            x.now = lambda: datetime.now(UTC)
            (source_id,) = await import_many(harness_a, x, 1, lifetime=timedelta(minutes=10))
            (first,) = refresh_tokens(x).values()
            x.hold("refresh")
            scan_a = asyncio.create_task(a.services.scan.run())
            await x.wait_for_held("refresh", 1)

            async with a.services.ctx.read() as session:
                db_now = await session.scalar(select(func.now()))
            ((_, until),) = await leases(harness_a, [source_id])
            assert until is not None and db_now is not None
            assert abs(until - (db_now + LEASE)) < timedelta(seconds=30)  # not A's clock + 5

            # B's own clock says A's lease has run out; the database's does not.
            taken_by_b_clock = await claimable(b, source_id, ClockLeases(ahead))
            taken_by_db_clock = await claimable(b, source_id, DatabaseLeases())
            assert (taken_by_b_clock, taken_by_db_clock) == (True, False)
            report_b = await b.services.scan.run()
            assert report_b.renewed == [] and len(x.token_requests) == 1

            x.let_go()
            report_a = await scan_a
            assert len(report_a.renewed) == 1
            assert x.refresh_uses(first) == 1
        finally:
            x.let_go()
            await a.stop()
            await b.stop()


async def test_a_scheduled_scan_names_its_round_by_the_database_clock(
    postgres: str, slack: FakeSlack
) -> None:
    async with FakeX() as x:
        skewed = FrozenClock(datetime.now(UTC) + timedelta(hours=3))
        env = Settings.from_env(replica_env(postgres, slack, x))
        bot = create_app(env, clock=skewed, scheduler=False, leases=DatabaseLeases())
        await bot.start()
        try:
            await bot.services.workspaces.ensure("T0001")
            harness = Harness(bot, slack, x, skewed, None)  # type: ignore[arg-type]
            x.now = skewed.now
            (source_id,) = await import_many(harness, x, 1, lifetime=timedelta(minutes=10))
            async with bot.services.ctx.read() as session:
                before = await session.scalar(select(func.now()))
            await bot.services.scan.run_scheduled()
            async with bot.services.ctx.read() as session:
                after = await session.scalar(select(func.now()))
                mark = await session.scalar(select(Source.scan_round).where(Source.id == source_id))
            assert before is not None and after is not None
            assert mark in {round_name(before), round_name(after)}
            assert mark != round_name(skewed.now())
        finally:
            await bot.stop()


async def claimable(bot: Any, source_id: int, leases: Any) -> bool:
    """Whether a claim timed by ``leases`` would take the source now (nothing is written)."""
    from dataclasses import replace

    ctx = replace(bot.services.ctx, leases=leases)
    async with ctx.read() as session:
        found = await session.scalar(
            select(func.count()).where(Source.id == source_id, scan_claims.claimable(ctx, "other"))
        )
    return bool(found)
