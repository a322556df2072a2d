"""The scan at scale: batches, a bound per network, pauses when a network asks, notices only
for workspaces with news, and a shutdown that gives back what it did not use.

Everything goes through the fake networks' HTTP servers and the fake Slack; ``hold`` keeps a
network's requests waiting so that what is in flight at one moment can be counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from conftest import CHANNEL, TEAM, Harness
from fakes.networks import FakeLinkedIn, FakeNetwork
from sqlalchemy import select
from test_renewal import stored, stored_tokens

from bot.clock import FrozenClock
from bot.services import scan as scan_module
from bot.services import scan_lanes
from bot.services.importer import import_records, parse_records
from bot.services.news import EXPIRY_KEY
from bot.services.notices import NoticeService, expiry_key
from bot.services.scan import round_name
from bot.services.scan_report import NAMES_KEPT, ScanReport
from bot.store.models import Source

X_DUE = timedelta(minutes=110)  # an X token of two hours has ten minutes left: inside its window


async def import_many(
    h: Harness,
    fake: FakeNetwork,
    count: int,
    *,
    prefix: str = "acct",
    workspace: str = TEAM,
    lifetime: timedelta | None = None,
    refresh: bool = True,
) -> list[int]:
    """``count`` sources of ``fake``'s network holding live tokens the fake issued."""
    records = []
    for n in range(count):
        account = f"{prefix}-{n:03}"
        fake.add_account(account, f"{prefix.title()} {n:03}")
        tokens = fake.issue_tokens(account, lifetime=lifetime, refresh=refresh)
        record = {
            "network": fake.name,
            "account_id": account,
            "name": f"{prefix.title()} {n:03}",
            "access_token": tokens["access_token"],
            "workspace": workspace,
        }
        if tokens.get("expires_at") is not None:
            record["expires_at"] = tokens["expires_at"].isoformat()
        if tokens.get("refresh_token"):
            record["refresh_token"] = tokens["refresh_token"]
        records.append(record)
    await import_records(
        h.services.ctx, h.services.workspaces, parse_records(records, h.services.ctx.catalogue)
    )
    async with h.services.ctx.read() as session:
        ids = await session.scalars(
            select(Source.id)
            .where(Source.network == fake.name, Source.account_id.like(f"{prefix}-%"))
            .order_by(Source.id)
        )
        return list(ids)


def refresh_tokens(fake: FakeNetwork, prefix: str = "acct") -> dict[str, str]:
    """The first refresh token issued to each account, by account."""
    return {
        account: fake.issued_refresh_tokens(account)[0]
        for account in fake.accounts
        if account.startswith(prefix)
    }


@contextlib.asynccontextmanager
async def second_network(clock: FrozenClock) -> AsyncIterator[FakeLinkedIn]:
    """A fake LinkedIn that renews (a partner app's refresh tokens), on the test's clock."""
    linkedin = FakeLinkedIn(issue_refresh_tokens=True)
    linkedin.now = clock.now
    await linkedin.start()
    try:
        yield linkedin
    finally:
        await linkedin.stop()


async def leases(h: Harness, ids: list[int]) -> list[tuple[str | None, datetime | None]]:
    async with h.services.ctx.read() as session:
        rows = await session.execute(
            select(Source.lease_owner, Source.lease_until)
            .where(Source.id.in_(ids))
            .order_by(Source.id)
        )
        return [(owner, until) for owner, until in rows]


async def wait_until_renewed(h: Harness, ids: list[int]) -> None:
    """Wait (up to 10 s) until each source has a second credential (its renewal committed)."""
    async with asyncio.timeout(10):
        while True:
            counts = [len(await stored_tokens(h, source_id)) for source_id in ids]
            if all(count >= 2 for count in counts):
                return
            await asyncio.sleep(0.02)


# --- a bound per network ---------------------------------------------------------------------


async def test_renewals_run_side_by_side_up_to_the_bound_and_other_networks_go_on(
    network_bot: Any, clock: FrozenClock
) -> None:
    async with (
        second_network(clock) as linkedin,
        network_bot("x", env={"NETWORK_CONCURRENCY": "3", **linkedin.env()}) as (h, x),
    ):
        x_ids = await import_many(h, x, 8)
        linkedin_ids = await import_many(h, linkedin, 2, lifetime=timedelta(hours=3))
        firsts = refresh_tokens(x)
        clock.advance(X_DUE)
        x.hold("refresh")

        scan = asyncio.create_task(h.services.scan.run())
        await x.wait_for_held("refresh", 3)
        # X holds three renewals in flight; LinkedIn's are done meanwhile.
        await wait_until_renewed(h, linkedin_ids)
        assert x.held["refresh"] == 3
        assert len(x.token_requests) == 3  # the bound: no fourth request while three wait
        x.let_go()
        report = await scan

        assert report.count("renewed") == 10
        assert report.transient == report.internal == []
        assert all(x.refresh_uses(token) == 1 for token in firsts.values())
        assert [owner for owner, _ in await leases(h, x_ids + linkedin_ids)] == [None] * 10


async def test_a_network_that_asks_to_slow_down_gets_nothing_more_in_this_scan(
    network_bot: Any, clock: FrozenClock
) -> None:
    async with network_bot("x", env={"NETWORK_CONCURRENCY": "1"}) as (h, x):
        ids = await import_many(h, x, 4)
        clock.advance(X_DUE)
        x.fail("refresh", 429, retry_after=600)

        report = await h.scan()

        assert len(x.token_requests) == 1
        not_tried = ": not tried in this scan (X asked us to slow down)"
        (first,) = [line for line in report.transient if not line.endswith(not_tried)]
        assert first.endswith(": X asked us to slow down")
        assert len(report.transient) == 4
        throttled = await stored(h, ids[0])
        assert throttled.next_attempt_at == clock.now() + timedelta(seconds=600)
        for source_id in ids[1:]:  # untouched: no failure counted, nothing leased
            source = await stored(h, source_id)
            assert (source.failures, source.status, source.lease_owner) == (0, "active", None)

        clock.advance(timedelta(minutes=1))  # the next scan asks again
        report = await h.scan()
        assert report.count("renewed") == 3
        assert len(x.token_requests) == 4


async def test_a_short_retry_after_is_waited_out_within_the_scan(
    network_bot: Any, clock: FrozenClock
) -> None:
    async with network_bot("x", env={"NETWORK_CONCURRENCY": "1"}) as (h, x):
        await import_many(h, x, 3)
        clock.advance(X_DUE)
        x.fail("refresh", 429, retry_after=1)

        started = time.monotonic()
        report = await h.scan()

        assert time.monotonic() - started >= 0.9  # the pause, in the network's real time
        assert report.count("renewed") == 2
        assert report.transient[0].endswith(": X asked us to slow down")


async def test_graph_rate_limit_codes_are_rate_limits() -> None:
    from bot.oauth.errors import RateLimited, TransientError, check_response

    request = httpx2.Request("GET", "https://graph.facebook.com/me")
    throttled = httpx2.Response(
        400, json={"error": {"code": 613, "message": "Calls limit"}}, request=request
    )
    with pytest.raises(RateLimited):
        check_response("Facebook", throttled)
    busy = httpx2.Response(500, json={"error": {"code": 2, "message": "Service"}}, request=request)
    with pytest.raises(TransientError) as caught:
        check_response("Facebook", busy)
    assert not isinstance(caught.value, RateLimited)


# --- walking in batches ----------------------------------------------------------------------


async def test_the_scan_walks_in_batches_with_bounded_room(
    network_bot: Any, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan_module, "BATCH", 4)
    monkeypatch.setattr(scan_lanes, "MAX_OUTSTANDING", 3)
    async with network_bot("x") as (h, x):
        due = await import_many(h, x, 9)
        clock.advance(X_DUE)
        # Sources far from anything are left out of the walk by SQL.
        later = await import_many(h, x, 5, prefix="later")

        report = await h.scan()

        assert report.checked == 14
        assert report.count("renewed") == 9
        assert [len(await stored_tokens(h, source_id)) for source_id in due] == [2] * 9
        assert [len(await stored_tokens(h, source_id)) for source_id in later] == [1] * 5


# --- notices only for workspaces with news ----------------------------------------------------


def record(account: str, workspace: str, expires_at: datetime) -> dict[str, Any]:
    """A Facebook source (its app is not configured here, so it is never checked)."""
    return {
        "network": "facebook",
        "account_id": account,
        "name": f"Page {account}",
        "access_token": f"token-{account}",
        "expires_at": expires_at.isoformat(),
        "workspace": workspace,
    }


async def test_notices_are_looked_at_only_for_workspaces_with_news(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    now = h.clock.now()
    quiet = [record(f"q{n}", f"T9{n:03}", now + timedelta(days=40)) for n in range(40)]
    news = [
        record("dead", TEAM, now - timedelta(hours=1)),  # expired: a notice is due
        record("soon", "T8001", now + timedelta(days=9)),  # a warning in two days
    ]
    await import_records(
        h.services.ctx,
        h.services.workspaces,
        parse_records(quiet + news, h.services.ctx.catalogue),
    )
    asked: list[str] = []
    pending, warnings = NoticeService.post_pending, NoticeService.post_warnings

    async def spy_pending(self: NoticeService, workspace: Any) -> int:
        asked.append(workspace.id)
        return await pending(self, workspace)

    async def spy_warnings(self: NoticeService, workspace: Any) -> int:
        asked.append(workspace.id)
        return await warnings(self, workspace)

    monkeypatch.setattr(NoticeService, "post_pending", spy_pending)
    monkeypatch.setattr(NoticeService, "post_warnings", spy_warnings)

    report = await h.scan()
    assert (report.notices_queued, report.warnings_queued) == (1, 0)
    assert sorted(set(asked)) == [TEAM]
    assert report.checked == 42

    asked.clear()
    h.clock.advance(timedelta(minutes=5))
    report = await h.scan()  # nothing new: no workspace is asked about
    assert asked == []
    assert (report.notices_queued, report.warnings_queued) == (0, 0)

    h.clock.advance(timedelta(days=2, minutes=5))  # "soon" crosses its seven-day warning
    report = await h.scan()
    assert sorted(set(asked)) == ["T8001"]
    assert (report.notices_queued, report.warnings_queued) == (0, 1)

    asked.clear()
    h.clock.advance(timedelta(minutes=5))
    await h.scan()  # warned once: nobody is asked again
    assert asked == []
    posts = h.slack.successful_calls("chat.postMessage")
    assert [call.args["channel"] for call in posts] == [CHANNEL, CHANNEL]


async def test_the_sql_expiry_key_is_the_notices_key(harness: Harness) -> None:
    now = harness.clock.now()
    await import_records(
        harness.services.ctx,
        harness.services.workspaces,
        parse_records([record("k", TEAM, now)], harness.services.ctx.catalogue),
    )
    async with harness.services.ctx.db.begin() as session:
        source = await session.scalar(select(Source))
        assert source is not None
        source.episode = 12
    async with harness.services.ctx.read() as session:
        source = await session.scalar(select(Source))
        sql_key = await session.scalar(select(EXPIRY_KEY))
    assert source is not None and sql_key == expiry_key(source) == "expiry:12"


# --- shutdown --------------------------------------------------------------------------------


async def test_shutdown_lets_a_renewal_under_way_finish_and_gives_back_the_rest(
    network_bot: Any, clock: FrozenClock
) -> None:
    async with network_bot("x", env={"NETWORK_CONCURRENCY": "1"}) as (h, x):
        ids = await import_many(h, x, 4)
        firsts = refresh_tokens(x)
        clock.advance(X_DUE)
        x.hold("refresh")
        scan = asyncio.create_task(h.services.scan.run())
        await x.wait_for_held("refresh", 1)

        stopping = asyncio.create_task(h.services.scan.stop(grace=10))
        await asyncio.sleep(0)  # stop has begun: nothing new starts
        x.let_go()
        await asyncio.wait_for(stopping, 10)
        report = await scan

        assert report.count("renewed") == 1
        assert len(x.token_requests) == 1
        assert all(
            line.endswith("not tried in this scan (the bot is shutting down)")
            for line in report.transient
        )
        assert [owner for owner, _ in await leases(h, ids)] == [None] * 4
        assert sorted(x.refresh_uses(token) for token in firsts.values()) == [0, 0, 0, 1]


async def test_shutdown_cuts_a_hung_renewal_after_the_grace_and_keeps_its_lease(
    network_bot: Any, clock: FrozenClock
) -> None:
    async with network_bot("x", env={"NETWORK_CONCURRENCY": "1"}) as (h, x):
        ids = await import_many(h, x, 3)
        firsts = refresh_tokens(x)
        clock.advance(X_DUE)
        x.hold("refresh")
        scan = asyncio.create_task(h.services.scan.run())
        await x.wait_for_held("refresh", 1)

        started = time.monotonic()
        await h.services.scan.stop(grace=0.3)
        assert time.monotonic() - started < 5
        await asyncio.wait_for(scan, 5)

        (on_the_wire,) = [r for r in x.requests if r.key == "token"]
        held = [
            source_id
            for source_id, (owner, _) in zip(ids, await leases(h, ids), strict=True)
            if owner is not None
        ]
        assert len(held) == 1  # whether its refresh reached X is unknown: it keeps its lease
        (_, until) = (await leases(h, held))[0]
        assert until == clock.now() + timedelta(minutes=5)
        x.let_go()  # the bot has hung up: X never finishes that request
        await asyncio.sleep(0.2)
        assert x.dropped == [on_the_wire]
        assert all(x.refresh_uses(token) == 0 for token in firsts.values())


async def test_the_work_limit_waits_for_listeners_at_work() -> None:
    from bot.handlers.limit import WorkLimit

    limit = WorkLimit(2)
    release = asyncio.Event()

    async def listener(ack: Any) -> None:
        await ack()
        await release.wait()

    async def ack() -> None:
        return None

    bounded = limit.after_ack(listener)
    working = [asyncio.create_task(bounded(ack=ack)) for _ in range(3)]
    await asyncio.sleep(0)
    assert not await limit.wait_idle(0.05)
    release.set()
    assert await limit.wait_idle(5)
    await asyncio.gather(*working)


# --- the report and rounds -------------------------------------------------------------------


def test_the_summary_names_the_first_and_counts_the_rest() -> None:
    report = ScanReport()
    for n in range(NAMES_KEPT + 7):
        report.add("renewed", f"X · {n}")
    assert len(report.renewed) == NAMES_KEPT
    line = report.summary().splitlines()[1]
    assert line.startswith(f"renewed: {NAMES_KEPT + 7} (X · 0, X · 1, ")
    assert line.endswith(f"X · {NAMES_KEPT - 1}, and 7 more)")


def test_replicas_scanning_within_the_same_minutes_share_a_round() -> None:
    mark = datetime(2026, 12, 1, 10, 5, tzinfo=UTC)
    assert round_name(mark) == round_name(mark - timedelta(seconds=140))
    assert round_name(mark) == round_name(mark + timedelta(seconds=140))
    assert round_name(mark) != round_name(mark + timedelta(minutes=5))
    assert round_name(mark) != round_name(mark - timedelta(seconds=160))
