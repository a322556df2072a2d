"""Faults, caused for real: a process killed with SIGKILL mid-work, then restarted.

The bot runs as a real `sources-bot` process against the fake Slack on 127.0.0.1; after the
kill, a fresh bot on the same database (the restart) picks up what the dead one left, with
the clock moved past the dead process's leases.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import CHANNEL, TEAM, bot_env, running_bot
from fakes.slack_api import FakeSlack

from bot.clock import FrozenClock

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
