"""Benchmark (not a test): one scan of 100,000 sources in 1,000 workspaces, 1% due for renewal.

Each round seeds a fresh database (SQLite in a temporary directory, or the PostgreSQL database
given with --database-url): LinkedIn sources with refresh tokens, one in a hundred inside its
renewal window, all health-checked an hour ago (bench/scan_seed.py). A local token endpoint in
its own process answers every renewal after --latency seconds (bench/token_server.py). Then:

- the floor, in this Python on the same database: the raw due-sources query (SQLAlchemy Core,
  no bot code) and the rows grouped by workspace;
- the floor with the renewals: the same, then for each due source its refresh token read and
  decrypted, a raw httpx2 POST to the token endpoint (NETWORK_CONCURRENCY at once), the new
  tokens encrypted, and the source updated and a credential inserted (one executemany each,
  rolled back so that the bot still finds the sources due);
- the bot: `sources-bot scan` in its own process, timed from start to exit, and its peak RSS;
  net of start-up means minus `sources-bot db upgrade` on the same database (interpreter,
  imports, migration check);
- the bot again, now that nothing is due, against the raw query again;
- the scan alone: the same sources made due again, then ``ScanService.run`` timed in a
  process already started (bench/scan_replica.py), with the due sources and with nothing
  due. `sources-bot scan` also runs the on-call workflow's check and the outbox after the
  scan; this figure leaves those out;
- the same at --small sources (10,000), for the peak RSS: it should stay flat;
- with --replicas N on PostgreSQL: the round scanned by one replica, and by N replicas started
  together (bench/scan_replica.py, timed from "go" to the last one done), on fresh seeds.

Figures are medians over --rounds rounds. The machine's cores are shared: see bench/README.md.

Run from the repository root:
    .venv/bin/python bench/bench_scan.py [--sources N] [--rounds R] [--latency S]
        [--database-url URL] [--replicas N] [--small N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import httpx2  # noqa: E402
import scan_seed  # noqa: E402
import token_server  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import insert, or_, select, update  # noqa: E402

from bot.store.db import create_engine  # noqa: E402
from bot.store.models import Base  # noqa: E402

RENEW_BEFORE = timedelta(days=7)  # LinkedIn's, from the catalogue
CONCURRENCY = 8  # NETWORK_CONCURRENCY's default


async def due_by_workspace(connection: Any) -> dict[str, list[Any]]:
    """The raw due-sources query (SQLAlchemy Core, no bot code), grouped by workspace."""
    sources = Base.metadata.tables["sources"]
    now = datetime.now(UTC)
    rows = await connection.execute(
        select(
            sources.c.id,
            sources.c.workspace_id,
            sources.c.network,
            sources.c.expires_at,
            sources.c.next_attempt_at,
        ).where(
            sources.c.status.not_in(["expired", "revoked"]),
            sources.c.renewable.is_(True),
            sources.c.expires_at <= now + RENEW_BEFORE,
            or_(sources.c.next_attempt_at.is_(None), sources.c.next_attempt_at <= now),
        )
    )
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        groups[row.workspace_id].append(row)
    return groups


async def floor_query(url: str) -> float:
    """Seconds for the due query and the grouping (on a connection already open)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")
            start = time.perf_counter()
            await due_by_workspace(connection)
            return time.perf_counter() - start
    finally:
        await engine.dispose()


async def floor_renewals(url: str, key: str, token_url: str) -> float:
    """Seconds for the query and grouping, then every due source renewed by hand: its refresh
    token read and decrypted, a POST, the new tokens encrypted and written (in a transaction
    rolled back at the end: the bot must still find the sources due)."""
    engine = create_engine(url)
    fernet = Fernet(key.encode())
    tables = Base.metadata.tables
    sources, credentials = tables["sources"], tables["credentials"]
    limit = asyncio.Semaphore(CONCURRENCY)
    try:
        async with (
            engine.connect() as connection,
            httpx2.AsyncClient(limits=httpx2.Limits(max_connections=CONCURRENCY)) as http,
        ):
            await connection.exec_driver_sql("SELECT 1")
            start = time.perf_counter()
            groups = await due_by_workspace(connection)
            due = [row.id for rows in groups.values() for row in rows]
            now = datetime.now(UTC)
            stored = dict(
                (
                    await connection.execute(
                        select(credentials.c.source_id, credentials.c.refresh_token).where(
                            credentials.c.source_id.in_(due)
                        )
                    )
                ).all()
            )
            await connection.rollback()  # end the read before the network waits

            async def renew(source_id: int) -> dict[str, Any]:
                refresh = fernet.decrypt(stored[source_id].encode()).decode()
                async with limit:
                    answer = await http.post(
                        token_url,
                        data={
                            "grant_type": "refresh_token",
                            "refresh_token": refresh,
                            "client_id": "bench",
                            "client_secret": "bench",
                        },
                    )
                token = answer.json()
                return {
                    "source_id": source_id,
                    "access_token": fernet.encrypt(token["access_token"].encode()).decode(),
                    "refresh_token": fernet.encrypt(token["refresh_token"].encode()).decode(),
                    "scopes": token["scope"],
                    "expires_at": now + timedelta(seconds=token["expires_in"]),
                    "created_at": now,
                }

            new = await asyncio.gather(*(renew(source_id) for source_id in due))
            transaction = await connection.begin()
            if new:
                await connection.execute(insert(credentials), new)
                await connection.execute(
                    update(sources)
                    .where(sources.c.id.in_(due))
                    .values(expires_at=now + timedelta(days=60), updated_at=now)
                )
            elapsed = time.perf_counter() - start
            await transaction.rollback()
            return elapsed
    finally:
        await engine.dispose()


async def due_again(url: str, sources: int, due_share: float) -> None:
    """Make the sources the seed made due (and the scan renewed) due again."""
    table = Base.metadata.tables["sources"]
    names = [f"Company Page {n}" for n in range(sources) if scan_seed.is_due(n, due_share)]
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(table)
                .where(table.c.name.in_(names))
                .values(expires_at=datetime.now(UTC) + timedelta(days=3))
            )
    finally:
        await engine.dispose()


def run_bot(env: dict[str, str], *args: str) -> tuple[float, float, str]:
    """A `sources-bot` command in its own process: (seconds, its peak RSS in MB, stdout)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, "-m", "bot", *args], env=env, cwd=ROOT, stdout=out, stderr=err
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise RuntimeError(f"sources-bot {' '.join(args)} failed: {err.read()[-2000:]}")
        return elapsed, usage.ru_maxrss / 1024, out.read()


def scan(env: dict[str, str]) -> tuple[float, float, int]:
    """`sources-bot scan`: (seconds, peak RSS in MB, sources renewed)."""
    took, peak, out = run_bot(env, "scan")
    line = next(line for line in out.splitlines() if line.startswith("renewed: "))
    return took, peak, int(line.split()[1])


def start_up(env: dict[str, str]) -> float:
    return run_bot(env, "db", "upgrade")[0]


def replicas(env: dict[str, str], count: int, round_: str) -> tuple[float, list[dict[str, Any]]]:
    """``count`` replicas scanning one round: (seconds from go to the last one done, reports)."""
    script = str(ROOT / "bench" / "scan_replica.py")
    processes = [
        subprocess.Popen(  # noqa: S603 - our own script
            [sys.executable, script],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for process in processes:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("a replica did not start")
    start = time.perf_counter()
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(f"go {round_}\n")
        process.stdin.flush()
    reports = [json.loads(process.communicate()[0]) for process in processes]
    return time.perf_counter() - start, reports


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000, help="the size RSS is compared at")
    parser.add_argument("--workspaces", type=int, default=1000)
    parser.add_argument("--due", type=float, default=0.01, help="share due for renewal")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.02, help="token endpoint, seconds")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    parser.add_argument("--replicas", type=int, default=0, help="PostgreSQL: N replicas vs 1")
    args = parser.parse_args()
    key = Fernet.generate_key().decode()
    server, token_url = token_server.start(args.latency)
    figures: dict[str, dict[str, list[float]]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="sources-bot-scan-") as tmp:
            for size in (args.small, args.sources):
                f = figures[str(size)] = defaultdict(list)
                for n in range(args.rounds):
                    url = args.database_url or f"sqlite:///{tmp}/scan-{size}-{n}.db"
                    due = asyncio.run(scan_seed.seed(url, key, size, args.workspaces, args.due))
                    env = scan_seed.bot_env(url, key, token_url)
                    f["floor"].append(asyncio.run(floor_query(url)))
                    f["floor_renewals"].append(asyncio.run(floor_renewals(url, key, token_url)))
                    f["start"].append(start_up(env))
                    took, peak, renewed = scan(env)
                    f["scan"].append(took)
                    f["rss"].append(peak)
                    f["quiet_floor"].append(asyncio.run(floor_query(url)))
                    f["quiet_scan"].append(scan(env)[0])
                    asyncio.run(due_again(url, size, args.due))
                    _, (alone,) = replicas(env, 1, f"round:alone-{size}-{n}")
                    f["alone"].append(alone["elapsed"])
                    _, (quiet,) = replicas(env, 1, f"round:quiet-{size}-{n}")
                    f["quiet_alone"].append(quiet["elapsed"])
                    print(
                        f"{size} sources, round {n + 1}: due {due}, renewed {renewed}; "
                        f"floor {f['floor'][-1] * 1000:.0f} ms, floor with renewals "
                        f"{f['floor_renewals'][-1]:.2f} s; scan {took:.2f} s "
                        f"(start-up {f['start'][-1]:.2f} s), peak RSS {peak:.0f} MB; "
                        f"nothing due: scan {f['quiet_scan'][-1]:.2f} s, "
                        f"floor {f['quiet_floor'][-1] * 1000:.0f} ms; scan alone "
                        f"{alone['elapsed']:.2f} s (renewed {alone['renewed']}), nothing due "
                        f"{quiet['elapsed']:.3f} s",
                        flush=True,
                    )
            if args.replicas and args.database_url:
                r = figures["replicas"] = defaultdict(list)
                for n in range(args.rounds):
                    for count in (1, args.replicas):
                        asyncio.run(
                            scan_seed.seed(
                                args.database_url, key, args.sources, args.workspaces, args.due
                            )
                        )
                        env = scan_seed.bot_env(args.database_url, key, token_url)
                        took, reports = replicas(env, count, f"round:bench-{n}-{count}")
                        r[str(count)].append(took)
                        print(
                            f"round {n + 1}: {count} replica(s) {took:.2f} s, renewed "
                            f"{[report['renewed'] for report in reports]}",
                            flush=True,
                        )
    finally:
        server.terminate()
        server.wait()
    report(args, figures)


def report(args: argparse.Namespace, figures: dict[str, dict[str, list[float]]]) -> None:
    where = "PostgreSQL" if args.database_url else "SQLite"
    big, small = figures[str(args.sources)], figures[str(args.small)]
    start = median(big["start"])
    net = median(big["scan"]) - start
    quiet_net = median(big["quiet_scan"]) - start
    print(
        f"\none scan of {args.sources} sources in {args.workspaces} workspaces, "
        f"{args.due:.0%} due, token endpoint {args.latency * 1000:.0f} ms, {where}, "
        f"medians of {args.rounds} rounds"
    )
    print(f"  start-up (db upgrade)        {start:7.2f} s")
    print(f"  scan, start to exit          {median(big['scan']):7.2f} s   net {net:.2f} s")
    print(f"  floor: due query + grouping  {median(big['floor']):7.3f} s   "
          f"scan net / floor: {net / median(big['floor']):.1f}x (target <= 2x)")  # fmt: skip
    print(f"  floor with the renewals      {median(big['floor_renewals']):7.2f} s   "
          f"scan net / floor: {net / median(big['floor_renewals']):.2f}x")  # fmt: skip
    print(f"  nothing due: scan net        {quiet_net:7.3f} s   floor "
          f"{median(big['quiet_floor']):.3f} s   "
          f"ratio {quiet_net / median(big['quiet_floor']):.1f}x")  # fmt: skip
    print(f"  scan alone (in process)      {median(big['alone']):7.2f} s   "
          f"/ floor with the renewals: "
          f"{median(big['alone']) / median(big['floor_renewals']):.2f}x")  # fmt: skip
    print(f"  nothing due, scan alone      {median(big['quiet_alone']):7.3f} s   "
          f"/ floor: {median(big['quiet_alone']) / median(big['quiet_floor']):.1f}x")  # fmt: skip
    print(f"  peak RSS of the scan         {median(small['rss']):5.0f} MB at {args.small}, "
          f"{median(big['rss']):.0f} MB at {args.sources} "
          f"({median(big['rss']) / median(small['rss']):.2f}x; target: flat)")  # fmt: skip
    if "replicas" in figures:
        one, many = (
            median(figures["replicas"]["1"]),
            median(figures["replicas"][str(args.replicas)]),
        )
        print(f"  1 replica {one:.2f} s, {args.replicas} replicas {many:.2f} s: "
              f"{one / many:.2f}x (target >= 2.5x)")  # fmt: skip


if __name__ == "__main__":
    main()
