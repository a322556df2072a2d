"""Faults, caused for real: a process killed with SIGKILL mid-work, then restarted.

The bot runs as a real `sources-bot` process against the fake Slack on 127.0.0.1; after the
kill, a fresh bot on the same database (the restart) picks up what the dead one left, with
the clock moved past the dead process's leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
from conftest import CHANNEL, SIGNING_SECRET, TEAM, bot_env, link_from, running_bot
from fakes import slack_requests
from fakes.oauth_provider import FakeOAuthProvider
from fakes.slack_api import FakeSlack
from sqlalchemy import text

from bot.clock import FrozenClock
from bot.store.db import create_engine

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
