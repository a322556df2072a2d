"""Benchmark (not a test): the digest to 1,000 workspaces against a Slack stub that enforces
Slack's posting limits (bench/slack_stub.py: one message per second per channel, a token
bucket per method beyond which it answers 429 with Retry-After).

Each round runs `sources-bot digest` (a real process) on a database of 1,000 workspaces, one
expired source each (so no digest is quiet), in two shapes:

- ``own channels``: every workspace posts to its own channel; the method's limit binds;
- ``shared channels``: the workspaces' channels are 40 (as many digests to one channel as
  25): the channels' limit binds.

The figure is the share of the allowed rate achieved: the time a sender that knows both
limits needs for the same messages (computed from the stub's rules) over the time the bot
took, from the first request the stub saw to the last message it accepted. The floor is such
a sender, run in this process against the same stub (raw aiohttp POSTs on the ideal
schedule): what is left between it and 100% is the stub's and the machine's. Nothing may be
lost: every digest is accepted exactly once (by its outbox key) and every outbox row ends
delivered. Planning and queueing the 1,000 digests (before the first send) is shown apart.

Target (issue 7): >= 90% of the allowed rate, nothing lost.

Run from the repository root:  .venv/bin/python bench/bench_digest.py [--workspaces N]
  [--rounds R] [--rate PER_SECOND] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import aiohttp  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from slack_stub import SlackStub, ideal_schedule, ideal_seconds  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bot.store.db import create_engine  # noqa: E402

BOT_TOKEN = "xoxb-bench-token"
SHARED_CHANNELS = 40


@dataclass
class Round:
    shape: str
    who: str
    ideal: float
    took: float
    planning: float
    accepted: int
    distinct: int
    refused: int
    outbox_left: int

    @property
    def share(self) -> float:
        return self.ideal / self.took if self.took > 0 else float("nan")


def channel_of(n: int, shape: str) -> str:
    return f"C{n:05d}" if shape == "own channels" else f"C{n % SHARED_CHANNELS:05d}"


def records(workspaces: int) -> list[dict[str, str]]:
    expired = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    return [
        {
            "network": "linkedin",
            "account_id": f"urn:li:organization:{n}",
            "name": f"Company Page {n:04d}",
            "access_token": f"bench-access-{n}",
            "expires_at": expired,
            "workspace": f"T{n:05d}",
        }
        for n in range(workspaces)
    ]


async def prepare(database_url: str, workspaces: int, shape: str) -> None:
    """Today's digests not yet claimed, and each workspace's channel for ``shape``."""
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM outbox"))
        await connection.execute(text("DELETE FROM digest_runs"))
        await connection.execute(
            text("UPDATE workspaces SET notify_channel = :channel WHERE id = :id"),
            [{"id": f"T{n:05d}", "channel": channel_of(n, shape)} for n in range(workspaces)],
        )
    await engine.dispose()


async def outbox_left(database_url: str) -> int:
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        left = await connection.scalar(
            text("SELECT count(*) FROM outbox WHERE status != 'delivered'")
        )
    await engine.dispose()
    return int(left or 0)


async def run_bot(
    stub: SlackStub, env: dict[str, str], workspaces: int, shape: str, database_url: str
) -> Round:
    await prepare(database_url, workspaces, shape)
    stub.reset()
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "digest", env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"digest exited {process.returncode}: {err.decode()[-2000:]}")
    if b"delivered: " + str(workspaces).encode() not in out:
        print(f"  note: digest said {out.decode().strip()!r}", file=sys.stderr)
    return measured(stub, "bot", shape, workspaces, started, await outbox_left(database_url))


def measured(
    stub: SlackStub, who: str, shape: str, workspaces: int, started: float, left: int
) -> Round:
    first = stub.first_request or started
    last = max((a.at for a in stub.accepted), default=first)
    channels = [channel_of(n, shape) for n in range(workspaces)]
    keys = [a.key for a in stub.accepted]
    return Round(
        shape=shape,
        who=who,
        ideal=ideal_seconds(channels, stub.rate, stub.interval),
        took=last - first,
        planning=first - started,
        accepted=len(keys),
        distinct=len(set(keys)),
        refused=stub.refused,
        outbox_left=left,
    )


async def run_floor(stub: SlackStub, workspaces: int, shape: str) -> Round:
    """A sender that knows the limits: each message POSTed at its time in the ideal schedule."""
    stub.reset()
    channels = [channel_of(n, shape) for n in range(workspaces)]
    schedule = ideal_schedule(channels, stub.rate, stub.interval)
    headers = {"Authorization": f"Bearer {BOT_TOKEN}"}
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        started = time.monotonic()

        async def send(at: float, channel: str, n: int) -> None:
            await asyncio.sleep(max(0.0, started + at - time.monotonic()))
            metadata = {"event_type": "bench", "event_payload": {"key": f"floor:{n}"}}
            body = {"channel": channel, "text": "digest", "metadata": metadata}
            while True:  # the schedule has no margin: a jittered send waits as told
                async with http.post(f"{stub.url}chat.postMessage", json=body) as response:
                    await response.read()
                    if response.status != 429:
                        return
                    await asyncio.sleep(float(response.headers["Retry-After"]))

        await asyncio.gather(*(send(at, channel, n) for n, (at, channel) in enumerate(schedule)))
    return measured(stub, "floor", shape, workspaces, started, 0)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspaces", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=50.0, help="method limit per second")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    args = parser.parse_args()

    stub = SlackStub(rate=args.rate)
    await stub.start()
    with tempfile.TemporaryDirectory(prefix="sources-bot-bench-") as tmp:
        database_url = args.database_url or f"sqlite:///{tmp}/bot.db"
        env = {
            **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}},
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_API_URL": stub.url,
            "DATABASE_URL": database_url,
            "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }
        data = Path(tmp) / "sources.json"
        data.write_text(json.dumps(records(args.workspaces)))
        importing = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "sources", "import", str(data), env=env, cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        if await importing.wait() != 0:
            raise RuntimeError("sources import failed")

        results: list[Round] = []
        for n in range(args.rounds):
            for shape in ("own channels", "shared channels"):
                for who in ("floor", "bot"):
                    if who == "floor":
                        result = await run_floor(stub, args.workspaces, shape)
                    else:
                        result = await run_bot(stub, env, args.workspaces, shape, database_url)
                    results.append(result)
                    print(
                        f"round {n + 1} {shape:15} {who:5}  ideal {result.ideal:5.1f} s  "
                        f"took {result.took:5.1f} s  share {result.share:6.1%}  "
                        f"accepted {result.accepted} ({result.distinct} distinct)  "
                        f"429s {result.refused}  not delivered {result.outbox_left}  "
                        f"planning {result.planning:4.1f} s",
                        flush=True,
                    )
    await stub.stop()
    report(results, args)


def report(results: list[Round], args: argparse.Namespace) -> None:
    print(
        f"\ndigest to {args.workspaces} workspaces, stub: 1 message/s per channel, "
        f"{args.rate:g} calls/s per method; median of {args.rounds} rounds"
    )
    print(f"{'shape':<17}{'ideal':>8}{'floor':>9}{'bot':>9}{'floor share':>13}"
          f"{'bot share':>11}   target")  # fmt: skip
    for shape in ("own channels", "shared channels"):
        floor = [r for r in results if r.shape == shape and r.who == "floor"]
        bot = [r for r in results if r.shape == shape and r.who == "bot"]
        print(
            f"{shape:<17}{bot[0].ideal:>7.1f}s{statistics.median(r.took for r in floor):>8.1f}s"
            f"{statistics.median(r.took for r in bot):>8.1f}s"
            f"{statistics.median(r.share for r in floor):>13.1%}"
            f"{statistics.median(r.share for r in bot):>11.1%}   >= 90%"
        )
    bots = [r for r in results if r.who == "bot"]
    lost = sum(args.workspaces - r.distinct for r in bots)
    twice = sum(r.accepted - r.distinct for r in bots)
    left = sum(r.outbox_left for r in bots)
    print(f"lost: {lost}, posted twice: {twice}, outbox rows not delivered: {left}  (target: 0)")
    print(f"planning and queueing (median): {statistics.median(r.planning for r in bots):.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
