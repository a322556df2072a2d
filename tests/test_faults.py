"""Faults, caused for real: a process killed with SIGKILL mid-work, then restarted.

The bot runs as a real `sources-bot` process against the fake Slack on 127.0.0.1; after the
kill, a fresh bot on the same database (the restart) picks up what the dead one left, with
the clock moved past the dead process's leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import (
    CHANNEL,
    SIGNING_SECRET,
    TEAM,
    bot_env,
    link_from,
    running_bot,
    slack_env,
)
from fakes import slack_requests
from fakes.networks import FakeX
from fakes.oauth_provider import FakeOAuthProvider
from fakes.slack_api import FakeSlack
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from test_renewal import stored_tokens
from test_scan import import_many, leases, second_network

from bot.clock import FrozenClock
from bot.services.internal import database_failed
from bot.services.renewal import LEASE
from bot.store.db import create_engine
from bot.store.models import Credential, Source

REPO = Path(__file__).resolve().parent.parent


async def start_cli(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env={**env, "PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO)},
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_killed_between_commit_and_delivery_delivers_after_restart(
    database_url: str, linkedin: Any, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    expired = {
        "network": "linkedin",
        "account_id": "urn-acme",
        "name": "Acme Corp",
        "access_token": "token-acme",
        "expires_at": (now - timedelta(days=1)).isoformat(),
        "workspace": TEAM,
    }
    records = tmp_path / "sources.json"
    records.write_text(json.dumps([expired]))

    async with FakeSlack(team_id=TEAM) as slack:
        env = bot_env(database_url, slack, linkedin)
        imported = await start_cli(env, "sources", "import", str(records))
        assert await imported.wait() == 0

        slack.hold("chat.postMessage")
        scan = await start_cli(env, "scan")
        await slack.wait_for_held("chat.postMessage")  # committed, and delivering
        scan.send_signal(signal.SIGKILL)
        assert await scan.wait() == -signal.SIGKILL
        assert slack.successful_calls("chat.postMessage") == []

    async with FakeSlack(team_id=TEAM) as slack:  # Slack is reachable again
        env = bot_env(database_url, slack, linkedin)
        restart = FrozenClock(now + timedelta(minutes=3))  # past the dead process's lease
        async with running_bot(env, slack, linkedin, restart) as h:
            await h.drain()
            assert (await h.scan()).notices_queued == 0  # the episode already has its notice
        (notice,) = slack.successful_calls("chat.postMessage")
    assert notice.args["channel"] == CHANNEL and "Acme Corp" in notice.args["text"]


# --- the scan under faults -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def x_records(x: FakeX, now: datetime, count: int) -> list[dict[str, Any]]:
    """X sources whose two-hour tokens have ten minutes left (inside X's renewal window)."""
    records = []
    for n in range(count):
        account = f"x-{n}"
        x.add_account(account, f"Acme X {n}")
        tokens = x.issue_tokens(account, lifetime=timedelta(minutes=10))
        records.append(
            {
                "network": "x",
                "account_id": account,
                "name": f"Acme X {n}",
                "access_token": tokens["access_token"],
                "refresh_token": tokens["refresh_token"],
                "expires_at": tokens["expires_at"].isoformat(),
                "workspace": TEAM,
            }
        )
    return records


def serve_env(database_url: str, slack: FakeSlack, x: FakeX, **extra: str) -> dict[str, str]:
    return {**slack_env(database_url, slack), **x.env(), **extra}


async def x_leases(database_url: str) -> list[tuple[str, str | None, datetime | None]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(Source.account_id, Source.lease_owner, Source.lease_until)
                .where(Source.network == "x")
                .order_by(Source.account_id)
            )
            return [(account, owner, until) for account, owner, until in rows]
    finally:
        await engine.dispose()


async def import_file(env: dict[str, str], records: list[dict[str, Any]], path: Path) -> None:
    await asyncio.to_thread(path.write_text, json.dumps(records))
    imported = await start_cli(env, "sources", "import", str(path))
    assert await asyncio.wait_for(imported.wait(), 60) == 0


async def test_serve_killed_while_renewing_loses_nothing_and_uses_no_refresh_token_twice(
    database_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    x = FakeX()
    await x.start()
    try:
        async with FakeSlack(team_id=TEAM) as slack:
            env = serve_env(database_url, slack, x)
            records = x_records(x, now, 3)
            firsts = {r["account_id"]: r["refresh_token"] for r in records}
            dead = {
                **{k: v for k, v in records[0].items() if k != "refresh_token"},
                "account_id": "x-dead",
                "name": "Dead X",
                "expires_at": (now - timedelta(hours=1)).isoformat(),
            }
            await import_file(env, [*records, dead], tmp_path / "x.json")

            x.hold("refresh")
            port = str(free_port())
            serve = await start_cli(env, "serve", "--host", "127.0.0.1", "--port", port)
            try:
                await x.wait_for_held("refresh", 3, timeout=60)  # the start-up scan renews
                leased = [row for row in await x_leases(database_url) if row[1] is not None]
                renewing = [account for account, _, _ in leased if account != "x-dead"]
                assert renewing == ["x-0", "x-1", "x-2"]
                assert all(until and until <= datetime.now(UTC) + LEASE for *_, until in leased)
            finally:
                serve.send_signal(signal.SIGKILL)
                assert await serve.wait() == -signal.SIGKILL
            await asyncio.sleep(0.2)  # the fake sees the dead process's connections close
            x.let_go()
            await asyncio.sleep(0.1)
            assert len(x.dropped) == 3  # no refresh reached X's grant: none was spent
            assert all(x.refresh_uses(token) == 0 for token in firsts.values())
            assert slack.successful_calls("chat.postMessage") == []  # not announced yet

        async with FakeSlack(team_id=TEAM) as slack:
            env = serve_env(database_url, slack, x)
            restart = FrozenClock(now + LEASE + timedelta(minutes=1))  # past the dead leases
            async with running_bot(env, slack, x, restart) as h:
                await h.drain()
                report = await h.scan()
                assert sorted(report.renewed) == [f"X · Acme X {n}" for n in range(3)]
                assert [owner for _, owner, _ in await x_leases(database_url)] == [None] * 4
                await h.scan()
            (notice,) = slack.successful_calls("chat.postMessage")  # once, after the restart
            assert "Dead X" in notice.args["text"]
            assert all(x.refresh_uses(token) == 1 for token in firsts.values())
    finally:
        await x.stop()


async def test_serve_stopped_while_renewing_finishes_that_renewal_and_gives_back_the_rest(
    database_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    async with FakeX() as x, FakeSlack(team_id=TEAM) as slack:
        env = serve_env(database_url, slack, x, NETWORK_CONCURRENCY="1")
        records = x_records(x, now, 3)
        firsts = [r["refresh_token"] for r in records]
        await import_file(env, records, tmp_path / "x.json")
        x.hold("refresh")
        serve = await start_cli(env, "serve", "--host", "127.0.0.1", "--port", str(free_port()))
        try:
            await x.wait_for_held("refresh", 1, timeout=60)
            serve.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)  # shutdown has begun; the renewal under way is waited for
            x.let_go()
            # uvicorn ends by raising the signal again, once its shutdown is done.
            assert await asyncio.wait_for(serve.wait(), 20) in (0, -signal.SIGTERM)
        finally:
            if serve.returncode is None:
                serve.kill()
        assert len(x.token_requests) == 1
        assert sorted(x.refresh_uses(token) for token in firsts) == [0, 0, 1]
        assert [owner for _, owner, _ in await x_leases(database_url)] == [None] * 3
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                renewed = await connection.scalar(
                    select(func.count()).select_from(Credential).join(Source)
                )
        finally:
            await engine.dispose()
        assert renewed == 4  # three imported, one renewal committed before the process ended


async def test_a_hanging_token_endpoint_costs_one_timeout_and_holds_no_other_network_up(
    network_bot: Any, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Long enough that LinkedIn, which answers, is never cut off on a busy machine.
    monkeypatch.setattr("bot.oauth.client.TIMEOUT", httpx2.Timeout(2.0))
    async with (
        second_network(clock) as linkedin,
        network_bot("x", env={"NETWORK_CONCURRENCY": "2", **linkedin.env()}) as (h, x),
    ):
        await import_many(h, x, 20)
        linkedin_ids = await import_many(h, linkedin, 2, lifetime=timedelta(hours=3))
        clock.advance(timedelta(minutes=110))
        x.hold("refresh")  # X answers nothing, ever

        report = await h.scan()

        # At most one timeout per call in flight (the second worker may not have started its
        # call before the first timed out, on a busy machine), then X is paused: the scan
        # waits out one timeout, not one per source.
        assert 1 <= len(x.token_requests) <= 2
        timed_out = [line for line in report.transient if line.endswith("X did not answer in time")]
        not_tried = [line for line in report.transient if "not tried in this scan" in line]
        assert 1 <= len(timed_out) <= 2
        assert len(timed_out) + len(not_tried) == 20
        assert report.count("renewed") == 2
        assert [len(await stored_tokens(h, i)) for i in linkedin_ids] == [2, 2]
        x.let_go()


async def test_the_database_connection_killed_mid_scan_is_reported_and_the_next_scan_completes(
    network_bot: Any, clock: FrozenClock, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    async with network_bot("youtube") as (h, youtube):  # refresh tokens that do not rotate
        ids = await import_many(h, youtube, 3)
        clock.advance(timedelta(minutes=55))  # inside Google's last ten minutes
        youtube.hold("refresh")
        scan = asyncio.create_task(h.services.scan.run())
        await youtube.wait_for_held("refresh", 3)

        killer = create_engine(database_url)
        try:
            async with killer.connect() as connection:
                lock = await connection.begin()
                await connection.execute(text("LOCK TABLE credentials IN ACCESS EXCLUSIVE MODE"))
                youtube.let_go()  # the renewals come back and wait on the lock to commit
                async with asyncio.timeout(10):
                    while not (waiting := await lock_waiters(connection)):  # noqa: ASYNC110
                        await asyncio.sleep(0.02)
                for pid in waiting:
                    await connection.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                await lock.rollback()
        finally:
            await killer.dispose()

        with caplog.at_level(logging.ERROR), pytest.raises(DBAPIError) as failed:
            await scan
        assert database_failed(failed.value)
        assert "scan stopped: the database failed" in caplog.text
        assert [owner for owner, _ in await leases(h, ids)] == [None] * 3  # given back

        await h.scan()  # the next one completes: every source renewed once, in all
        assert [len(await stored_tokens(h, i)) for i in ids] == [2, 2, 2]
        assert [owner for owner, _ in await leases(h, ids)] == [None] * 3


async def lock_waiters(connection: Any) -> list[int]:
    """Backends of this database waiting for a lock (the renewals' commits)."""
    # Statistics views are a snapshot per transaction: take a new one.
    await connection.execute(text("SELECT pg_stat_clear_snapshot()"))
    rows = await connection.execute(
        text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
    )
    return [pid for (pid,) in rows]


async def serve(env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    """A real `sources-bot serve` on ``port``, once it listens."""
    process = await start_cli(env, "serve", "--no-scheduler", "--host", "127.0.0.1",
                              "--port", str(port))  # fmt: skip
    async with asyncio.timeout(30):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                assert process.returncode is None, "serve exited"
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return process


async def connect_link(slack: FakeSlack, port: int, name: str) -> str:
    """`/sources connect linkedin` sent to the running bot; the private link it answers."""
    body, _ = slack_requests.slash_command(
        text="connect linkedin", team_id=TEAM, response_url=slack.response_url(name)
    )
    signed = slack_requests.sign(body, SIGNING_SECRET, int(time.time()))
    before = len(slack.successful_calls("response_url"))
    async with httpx2.AsyncClient() as http:
        response = await http.post(
            f"http://127.0.0.1:{port}/slack/events", content=body, headers=signed
        )
    assert response.status_code == 200
    calls = await slack.wait_for("response_url", before + 1)
    return link_from(calls[-1].args)


async def test_killed_during_an_oauth_callback_saves_nothing_and_the_next_click_works(
    database_url: str, linkedin: FakeOAuthProvider
) -> None:
    port = free_port()
    linkedin.add_account("urn-acme", "Acme Corp")
    async with FakeSlack(team_id=TEAM) as slack, httpx2.AsyncClient() as browser:
        env = bot_env(database_url, slack, linkedin) | {"PUBLIC_URL": f"http://127.0.0.1:{port}"}
        bot = await serve(env, port)
        try:
            link = await connect_link(slack, port, "first")
            to_network = await browser.get(link)  # sets the browser cookie
            back = await browser.get(to_network.headers["location"])  # signed in: redirected
            callback = back.headers["location"]
            linkedin.hang_token(60)  # the network is slow to answer the code exchange
            exchange = asyncio.create_task(browser.get(callback, timeout=60))
            await asyncio.wait_for(linkedin.token_requested.wait(), 10)
            bot.send_signal(signal.SIGKILL)  # while the callback waits for the tokens
            assert await bot.wait() == -signal.SIGKILL
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()
        with contextlib.suppress(httpx2.HTTPError):  # the connection died with the process
            await exchange

        # Nothing half-saved: no source, no tokens, no event, nothing queued; the attempt is
        # spent (its state was consumed before the exchange).
        engine = create_engine(database_url)
        async with engine.connect() as db:
            counts = [
                await db.scalar(text("SELECT count(*) FROM sources")),
                await db.scalar(text("SELECT count(*) FROM credentials")),
                await db.scalar(text("SELECT count(*) FROM events")),
                await db.scalar(text("SELECT count(*) FROM outbox")),
            ]
            consumed = await db.scalar(text("SELECT consumed_at IS NOT NULL FROM connect_attempts"))
        await engine.dispose()
        assert counts == [0, 0, 0, 0] and consumed

        bot = await serve(env, port)  # the restart
        try:
            again = await browser.get(callback)  # back, or reload: the page says what happened
            assert again.status_code == 410 and "already used" in again.text
            link = await connect_link(slack, port, "second")  # the next click
            page = await browser.get(link, follow_redirects=True)
            assert page.status_code == 200 and "Acme Corp" in page.text
            (dm,) = await slack.wait_for("chat.postMessage")
            assert dm.args["channel"] == "U1"
        finally:
            bot.send_signal(signal.SIGTERM)
            await bot.wait()
    engine = create_engine(database_url)
    async with engine.connect() as db:
        sources = (await db.execute(text("SELECT account_id, name FROM sources"))).all()
        credentials = await db.scalar(text("SELECT count(*) FROM credentials"))
    await engine.dispose()
    assert [tuple(row) for row in sources] == [("urn-acme", "Acme Corp")] and credentials == 1
