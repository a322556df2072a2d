"""Benchmark (not a test): `/sources` under load, against a bare Bolt app on the same uvicorn.

The bot is served by a real `sources-bot serve` process (uvicorn) over a SQLite file holding
1,000 sources in one workspace; the floor is bench/bare_bolt.py, a bare Bolt AsyncApp on the
same uvicorn that acks and replies to the response_url with the bot's own answer (captured
once). This script signs slash commands as Slack signs them and sends them at a fixed
concurrency, with a local receiver standing in for Slack (auth.test and the response_urls).

Per round and server process: ack latency p50/p99 (HTTP response to the signed request),
server CPU per request (user + system time of the process over the round, until every answer
arrived), answers delivered, and peak RSS (VmHWM). Rounds alternate floor and bot; the
figures are medians over the rounds, and ratios are bot / floor.

Targets (issue 7): ack p99 <= 1.3x, CPU per request <= 3x, 100% delivered, peak RSS <= 150 MB.

Run from the repository root:  .venv/bin/python bench/bench_sources_load.py [--requests N]
  [--rounds R] [--concurrency C] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from fakes import slack_requests  # noqa: E402

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-token"
TEAM = "T0001"
SOURCES = 1000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Receiver:
    """Slack's side: auth.test for Bolt, and the response_urls, counting what arrives."""

    def __init__(self) -> None:
        self.delivered: set[str] = set()
        self.last_payload: dict[str, Any] | None = None
        self.changed = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("POST", "/api/{method}", self.api)
        app.router.add_route("POST", "/response/{name}", self.response)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def api(self, request: web.Request) -> web.Response:
        if request.match_info["method"] == "auth.test":
            return web.json_response(
                {"ok": True, "team_id": TEAM, "team": "Bench", "user_id": "UBOT", "bot_id": "B1"}
            )
        return web.json_response({"ok": True})

    async def response(self, request: web.Request) -> web.Response:
        self.last_payload = await request.json()
        self.delivered.add(request.match_info["name"])
        self.changed.set()
        return web.Response(text="ok")

    async def wait_for(self, names: set[str], timeout: float) -> float:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while not names <= self.delivered and time.monotonic() < deadline:
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                break
        return len(names & self.delivered) / len(names)


@dataclass
class Round:
    who: str
    p50: float
    p99: float
    cpu_ms: float
    delivered: float
    rss_mb: float
    seconds: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def records(now: datetime) -> list[dict[str, Any]]:
    """1,000 LinkedIn sources: 20 expired, 30 expiring, the rest fine (as the older bench)."""
    out = []
    for n in range(SOURCES):
        if n < 20:
            expires = now - timedelta(days=1 + n % 5)
        elif n < 50:
            expires = now + timedelta(days=1 + n % 6, hours=3)
        else:
            expires = now + timedelta(days=20 + n % 40)
        out.append(
            {
                "network": "linkedin",
                "account_id": f"urn:li:organization:{100000 + n}",
                "name": f"Company Page {n:04d}",
                "access_token": f"bench-access-{n}",
                "expires_at": expires.isoformat(),
                "workspace": TEAM,
            }
        )
    return out


async def start_server(
    command: list[str], env: dict[str, str], port: int
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(  # noqa: S603, ASYNC220 - our own server; Popen returns at once
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited with {process.returncode}") from None
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return process
    process.kill()
    raise RuntimeError(f"{command} did not listen on {port}")


async def load(
    session: aiohttp.ClientSession,
    url: str,
    receiver: Receiver,
    name: str,
    requests: int,
    concurrency: int,
) -> tuple[list[float], set[str]]:
    """``requests`` signed `/sources` commands, ``concurrency`` in flight; their ack times."""
    acks: list[float] = []
    names = {f"{name}-{n}" for n in range(requests)}
    queue = list(sorted(names))

    async def worker() -> None:
        while queue:
            answer = queue.pop()
            body, _ = slack_requests.slash_command(
                text="", team_id=TEAM, response_url=f"{receiver.url}/response/{answer}"
            )
            headers = slack_requests.sign(body, SIGNING_SECRET)
            start = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status} from {url}")
            acks.append(time.perf_counter() - start)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return acks, names


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def one_round(
    who: str,
    command: list[str],
    env: dict[str, str],
    receiver: Receiver,
    requests: int,
    concurrency: int,
    tag: str,
) -> Round:
    port = free_port()
    process = await start_server(command, {**env, "PORT": str(port)}, port)
    url = f"http://127.0.0.1:{port}/slack/events"
    try:
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            # Warm-up: Bolt's auth.test, imports, the first connections.
            _, warm = await load(session, url, receiver, f"{tag}-warm", 20, 5)
            await receiver.wait_for(warm, 60)
            cpu_before = cpu_seconds(process.pid)
            started = time.perf_counter()
            acks, names = await load(session, url, receiver, tag, requests, concurrency)
            delivered = await receiver.wait_for(names, 300)
            seconds = time.perf_counter() - started
            cpu = cpu_seconds(process.pid) - cpu_before
        rss = peak_rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return Round(
        who,
        p50=statistics.median(acks) * 1000,
        p99=percentile(acks, 0.99) * 1000,
        cpu_ms=cpu / requests * 1000,
        delivered=delivered,
        rss_mb=rss,
        seconds=seconds,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each (default 3)")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    args = parser.parse_args()

    receiver = Receiver()
    await receiver.start()
    with tempfile.TemporaryDirectory(prefix="sources-bot-bench-") as tmp:
        env = {
            **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}},
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_API_URL": f"{receiver.url}/api/",
            "DATABASE_URL": args.database_url or f"sqlite:///{tmp}/bot.db",
            "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "LINKEDIN_CLIENT_ID": "bench-client",
            "LINKEDIN_CLIENT_SECRET": "bench-secret",
        }
        data = Path(tmp) / "sources.json"
        data.write_text(json.dumps(records(datetime.now(UTC))))
        python = sys.executable
        await asyncio.to_thread(
            subprocess.run,
            [python, "-m", "bot", "sources", "import", str(data)],
            env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
        )  # fmt: skip
        bot = [python, "-m", "bot", "serve", "--no-scheduler", "--host", "127.0.0.1"]
        floor = [python, str(ROOT / "bench" / "bare_bolt.py")]

        # The bot's answer once, for the floor to send the same payload.
        first = await one_round("bot", bot, env, receiver, 50, 5, "capture")
        assert receiver.last_payload is not None
        reply = {k: receiver.last_payload[k] for k in ("text", "blocks")}
        print(f"answer: {len(reply['blocks'])} blocks, {len(json.dumps(reply))} bytes; "
              f"first bot round {first.seconds:.1f} s")  # fmt: skip
        floor_env = {**env, "BENCH_REPLY": json.dumps(reply)}

        results: list[Round] = []
        for n in range(args.rounds):
            for who, command, round_env in (("floor", floor, floor_env), ("bot", bot, env)):
                result = await one_round(
                    who,
                    command,
                    round_env,
                    receiver,
                    args.requests,
                    args.concurrency,
                    f"{who}{n}",
                )
                results.append(result)
                print(
                    f"round {n + 1} {who:5}  ack p50 {result.p50:7.1f} ms  p99 {result.p99:7.1f} ms"
                    f"  cpu/req {result.cpu_ms:6.2f} ms  delivered {result.delivered:7.2%}"
                    f"  peak RSS {result.rss_mb:6.1f} MB  ({result.seconds:.1f} s)"
                )
    await receiver.stop()
    report(results, args)


def report(results: list[Round], args: argparse.Namespace) -> None:
    def median(who: str, field: str) -> float:
        return statistics.median(getattr(r, field) for r in results if r.who == who)

    print(
        f"\n/sources with {SOURCES} sources, {args.requests} requests per round at concurrency "
        f"{args.concurrency}, median of {args.rounds} rounds (floor: bare Bolt AsyncApp, "
        "same uvicorn, same reply)"
    )
    print(f"{'figure':<22}{'floor':>10}{'bot':>10}{'ratio':>8}   target")
    rows = [
        ("ack p50 (ms)", "p50", None),
        ("ack p99 (ms)", "p99", "<= 1.3x"),
        ("CPU per request (ms)", "cpu_ms", "<= 3x"),
        ("peak RSS (MB)", "rss_mb", "<= 150 MB"),
    ]
    for label, field, target in rows:
        floor, bot = median("floor", field), median("bot", field)
        print(f"{label:<22}{floor:>10.2f}{bot:>10.2f}{bot / floor:>7.2f}x   {target or ''}")
    worst = min(r.delivered for r in results if r.who == "bot")
    print(f"{'answers delivered':<22}{median('floor', 'delivered'):>10.2%}{worst:>10.2%}"
          f"{'':>8}   100% (bot: worst round)")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
