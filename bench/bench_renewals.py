"""Benchmark (not a test): 10,000 renewals against a local token endpoint that answers in 20 ms.

Each round seeds a fresh database (SQLite in a temporary directory, or the PostgreSQL database
given with --database-url) with 10,000 LinkedIn sources, all inside their renewal window
(bench/scan_seed.py), and a token endpoint in its own process answers each POST after
--latency seconds (bench/token_server.py). Then, in the same round:

- the floor: raw httpx2 POSTs of refresh-token grants to that endpoint, from one client, at
  NETWORK_CONCURRENCY at once: what the network alone allows;
- the bot: one scan (bench/scan_replica.py, timed from "go" to its end, start-up excluded),
  which claims each source, renews it at the endpoint and commits its new tokens and event,
  at most NETWORK_CONCURRENCY calls at once.

Throughput is renewals per second; the ratio is bot / floor, medians over --rounds rounds.

Run from the repository root:
    .venv/bin/python bench/bench_renewals.py [--renewals N] [--rounds R] [--latency S]
        [--concurrency C] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import httpx2  # noqa: E402
import scan_seed  # noqa: E402
import token_server  # noqa: E402
from bench_scan import replicas  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402


async def floor(token_url: str, count: int, concurrency: int) -> float:
    """Seconds for ``count`` raw POSTs of refresh grants, ``concurrency`` at once."""
    limit = asyncio.Semaphore(concurrency)
    async with httpx2.AsyncClient(limits=httpx2.Limits(max_connections=concurrency)) as http:

        async def post(n: int) -> None:
            async with limit:
                answer = await http.post(
                    token_url,
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": f"AQX-refresh-{n:08d}-" + "y" * 100,
                        "client_id": "bench",
                        "client_secret": "bench",
                    },
                )
                answer.json()

        await post(-1)  # the connection is not part of it
        start = time.perf_counter()
        await asyncio.gather(*(post(n) for n in range(count)))
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--renewals", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=8, help="NETWORK_CONCURRENCY")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    args = parser.parse_args()
    key = Fernet.generate_key().decode()
    server, token_url = token_server.start(args.latency)
    floors, bots = [], []
    try:
        with tempfile.TemporaryDirectory(prefix="sources-bot-renewals-") as tmp:
            for n in range(args.rounds):
                url = args.database_url or f"sqlite:///{tmp}/renewals-{n}.db"
                asyncio.run(scan_seed.seed(url, key, args.renewals, 100, 1.0))
                floors.append(asyncio.run(floor(token_url, args.renewals, args.concurrency)))
                env = scan_seed.bot_env(
                    url, key, token_url, NETWORK_CONCURRENCY=str(args.concurrency)
                )
                _, (report,) = replicas(env, 1, f"round:renewals-{n}")
                if report["renewed"] != args.renewals:
                    raise RuntimeError(f"the scan renewed {report['renewed']}: {report}")
                bots.append(report["elapsed"])
                print(
                    f"round {n + 1}: floor {args.renewals / floors[-1]:6.0f}/s "
                    f"({floors[-1]:.1f} s)   bot {args.renewals / bots[-1]:6.0f}/s "
                    f"({bots[-1]:.1f} s)",
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait()
    raw, bot = (args.renewals / statistics.median(x) for x in (floors, bots))
    where = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"\n{args.renewals} renewals, token endpoint {args.latency * 1000:.0f} ms, "
        f"{args.concurrency} at once, {where}, medians of {args.rounds} rounds"
    )
    print(f"  floor (raw httpx2 POSTs)  {raw:7.0f} renewals/s")
    print(f"  bot (one scan)            {bot:7.0f} renewals/s   {bot / raw:.2f}x (target >= 0.7x)")


if __name__ == "__main__":
    main()
