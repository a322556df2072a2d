"""One scan replica for bench_scan.py: builds the bot's services as `sources-bot` does, prints
"ready", waits for a line "go ROUND" on stdin, scans in that round, prints what it did as JSON.

Start-up (interpreter, imports, migration check, the first connections) is over before "go",
so that replicas started together scan together.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from bot.app import create_services  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.services.leases import database_leases  # noqa: E402
from bot.store import migrate  # noqa: E402
from bot.store.db import create_engine  # noqa: E402


async def main() -> None:
    settings = Settings.from_env(os.environ)
    engine = create_engine(settings.database_url, settings.database_pool_size)
    await migrate.upgrade(engine)
    services = create_services(settings, engine, SystemClock(), database_leases(engine))
    print("ready", flush=True)
    words = (await asyncio.to_thread(sys.stdin.readline)).split()
    started = time.perf_counter()
    report = await services.scan.run(words[1] if len(words) > 1 else None)
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "elapsed": elapsed,
                "renewed": report.count("renewed"),
                "transient": report.count("transient"),
                "internal": report.count("internal"),
            }
        ),
        flush=True,
    )
    await services.aclose()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
