"""Benchmark (not a test): `sources-bot sources import` of 100,000 records.

The records (100,000 LinkedIn sources in 1,000 workspaces, each with an access and a refresh
token) are written to a JSON file; each round imports them into a fresh, migrated database
with the real command in its own process, timed from start to exit. The floor, measured in
the same run, is the least any import must do, in this Python: read the file, encrypt the
tokens with Fernet and insert the rows with one executemany per table, with no checks, no
lookups and no start-up. Rounds alternate; figures are medians.

Target (issue 7): >= 2,000 records/s.

Run from the repository root:  .venv/bin/python bench/bench_import.py [--records N]
  [--rounds R] [--database-url URL]   (a PostgreSQL URL is emptied before each round)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from cryptography.fernet import Fernet  # noqa: E402
from scan_seed import fresh_database  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from bot.store.db import create_engine  # noqa: E402
from bot.store.models import Base  # noqa: E402


def records(count: int, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "network": "linkedin",
            "account_id": f"urn:li:organization:{n}",
            "name": f"Company Page {n}",
            "access_token": f"AQV-access-{n:07d}-" + "x" * 150,
            "refresh_token": f"AQX-refresh-{n:07d}-" + "y" * 100,
            "scopes": ["openid", "profile"],
            "expires_at": (now + timedelta(days=10 + n % 50)).isoformat(),
            "workspace": f"T{n % 1000:05d}",
        }
        for n in range(count)
    ]


async def floor(url: str, path: Path, key: str) -> float:
    """Read, encrypt, insert: the work no import can skip."""
    engine = create_engine(url)
    fernet = Fernet(key.encode())
    now = datetime.now(UTC)
    tables = Base.metadata.tables
    try:
        start = time.perf_counter()
        data = json.loads(await asyncio.to_thread(path.read_text))
        teams = sorted({r["workspace"] for r in data})
        async with engine.begin() as connection:
            await connection.execute(
                insert(tables["workspaces"]), [{"id": t, "created_at": now} for t in teams]
            )
            for begin in range(0, len(data), 1000):
                chunk = data[begin : begin + 1000]
                rows = await connection.execute(
                    insert(tables["sources"]).returning(tables["sources"].c.id),
                    [
                        {
                            "workspace_id": r["workspace"],
                            "network": r["network"],
                            "account_id": r["account_id"],
                            "name": r["name"],
                            "kind": "account",
                            "status": "active",
                            "expires_at": datetime.fromisoformat(r["expires_at"]),
                            "renewable": False,
                            "episode": 0,
                            "failures": 0,
                            "status_changed_at": now,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for r in chunk
                    ],
                )
                ids = list(rows.scalars())
                await connection.execute(
                    insert(tables["credentials"]),
                    [
                        {
                            "source_id": source_id,
                            "access_token": fernet.encrypt(r["access_token"].encode()).decode(),
                            "refresh_token": fernet.encrypt(r["refresh_token"].encode()).decode(),
                            "scopes": " ".join(r["scopes"]),
                            "expires_at": datetime.fromisoformat(r["expires_at"]),
                            "created_at": now,
                        }
                        for source_id, r in zip(ids, chunk, strict=True)
                    ],
                )
        return time.perf_counter() - start
    finally:
        await engine.dispose()


def bot_import(env: dict[str, str], path: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "bot", "sources", "import", str(path)],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return time.perf_counter() - start, done.stdout.strip()


def start_up(env: dict[str, str]) -> float:
    """What any command costs before it works: interpreter, imports, migration check."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"],
        env=env, cwd=ROOT, capture_output=True, check=True,
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    args = parser.parse_args()
    key = Fernet.generate_key().decode()
    with tempfile.TemporaryDirectory(prefix="sources-bot-bench-") as tmp:
        path = Path(tmp) / "sources.json"
        path.write_text(json.dumps(records(args.records, datetime.now(UTC))))
        size_mb = path.stat().st_size / 2**20
        print(f"{args.records} records, {size_mb:.0f} MB of JSON")
        floors, imports, starts = [], [], []
        for n in range(args.rounds):
            url = args.database_url or f"sqlite:///{tmp}/floor{n}.db"
            asyncio.run(fresh_database(url))
            floors.append(asyncio.run(floor(url, path, key)))
            url = args.database_url or f"sqlite:///{tmp}/bot{n}.db"
            asyncio.run(fresh_database(url))
            env = {
                **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}},
                "DATABASE_URL": url,
                "TOKEN_ENCRYPTION_KEY": key,
            }
            starts.append(start_up(env))
            took, said = bot_import(env, path)
            imports.append(took)
            print(
                f"round {n + 1}: floor {floors[-1]:6.1f} s   import {took:6.1f} s "
                f"(start-up {starts[-1]:.1f} s)   {said}"
            )
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    imported, raw, start = (statistics.median(x) for x in (imports, floors, starts))
    print(f"\nsources import of {args.records} records, median of {args.rounds} rounds")
    print(f"  import       {imported:6.1f} s   {args.records / imported:8.0f} records/s   "
          "target >= 2,000 records/s")  # fmt: skip
    print(f"  net of start-up ({start:.1f} s)  {args.records / (imported - start):8.0f} records/s")
    print(f"  floor        {raw:6.1f} s   {args.records / raw:8.0f} records/s   "
          f"(import / floor: {imported / raw:.2f}x)")  # fmt: skip
    print(f"  peak RSS of the import process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
