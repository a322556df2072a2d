"""Benchmark (not a test): how fast the outbox delivers webhooks to a local receiver.

Builds the bot's services on a fresh database (SQLite in a temporary file, or the PostgreSQL
database given with --database-url), adds one webhook endpoint pointing at a receiver on
127.0.0.1 that answers 204, appends EVENTS events spread over SOURCES sources (so deliveries
can run side by side: one source's events go one at a time, in order), then times the
dispatcher's drain: claim, sign, POST, record each attempt and the delivery.

The floor, measured in the same run: raw httpx2 POSTs of the same bodies, with the same headers,
to the same receiver, at the dispatcher's concurrency, from one client. The ratio says what the
outbox costs on top of the HTTP itself (database round trips, signing, the attempt records).

Run from the repository root:
    .venv/bin/python bench/bench_outbox_webhooks.py [--events N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import httpx2  # noqa: E402
from aiohttp import web  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from bot.app import create_services  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.delivery.dispatcher import CONCURRENCY  # noqa: E402
from bot.delivery.webhooks import encode_body, signed_headers  # noqa: E402
from bot.services.events import EventType  # noqa: E402
from bot.store import migrate  # noqa: E402
from bot.store.db import create_engine  # noqa: E402
from bot.store.models import OutboxMessage  # noqa: E402

TEAM = "T0BENCH"
SOURCES = 200


class Receiver:
    """Counts what it gets and answers 204 at once."""

    def __init__(self) -> None:
        self.received = 0
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.received += 1
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/hooks"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def empty_database(url: str) -> None:
    if url.startswith("sqlite"):
        return
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def outbox_run(database_url: str, receiver: Receiver, events: int) -> dict[str, Any]:
    await empty_database(database_url)
    settings = Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "SLACK_API_URL": "http://127.0.0.1:9/api/",  # never called
        }
    )
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    services = create_services(settings, engine, SystemClock())
    try:
        await services.workspaces.ensure(TEAM, "Bench")
        added = await services.webhooks.add(TEAM, receiver.url)
        ctx = services.ctx
        start = time.perf_counter()
        async with ctx.db.begin() as session:
            for n in range(events):
                await ctx.events.append(
                    session,
                    type=EventType.RENEWED,
                    workspace_id=TEAM,
                    source_id=n % SOURCES,
                    source_json={"id": n % SOURCES, "name": f"Page {n % SOURCES}"},
                    actor="scan",
                    payload={"n": n},
                    now=ctx.clock.now(),
                )
        appended = time.perf_counter() - start
        before = receiver.received
        start = time.perf_counter()
        report = await services.dispatcher.drain()
        took = time.perf_counter() - start
        assert report.delivered == events, report
        assert receiver.received - before == events
        async with ctx.read() as session:
            payloads = (
                await session.scalars(select(OutboxMessage.payload).order_by(OutboxMessage.id))
            ).all()
        bodies = [(p["event_id"], encode_body(p["body"])) for p in payloads]
        return {
            "seconds": took,
            "appended": appended,
            "secret": added.secret,
            "bodies": bodies,
        }
    finally:
        await services.aclose()
        await engine.dispose()


async def floor_run(
    receiver: Receiver, secret: str, bodies: list[tuple[str, str]], concurrency: int
) -> float:
    """The same POSTs, signed the same way, with nothing else around them."""
    limit = asyncio.Semaphore(concurrency)
    clock = SystemClock()
    async with httpx2.AsyncClient(timeout=10) as client:

        async def post(event_id: str, body: str) -> None:
            async with limit:
                headers = {
                    "content-type": "application/json",
                    **signed_headers(secret, event_id, clock.now(), body),
                }
                response = await client.post(receiver.url, content=body, headers=headers)
                assert response.status_code == 204

        before = receiver.received
        start = time.perf_counter()
        await asyncio.gather(*(post(event_id, body) for event_id, body in bodies))
        took = time.perf_counter() - start
        assert receiver.received - before == len(bodies)
    return took


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="deliveries to make")
    parser.add_argument("--database-url", help="PostgreSQL to use (emptied!); default SQLite")
    args = parser.parse_args()
    receiver = Receiver()
    await receiver.start()
    try:
        with tempfile.TemporaryDirectory(prefix="sources-bot-bench-") as tmp:
            # A short warm-up run pays for imports, migrations and connection set-up.
            await outbox_run(args.database_url or f"sqlite:///{tmp}/warm.db", receiver, 50)
            url = args.database_url or f"sqlite:///{tmp}/bot.db"
            outbox = await outbox_run(url, receiver, args.events)
        floor = await floor_run(receiver, outbox["secret"], outbox["bodies"], CONCURRENCY)
    finally:
        await receiver.stop()

    n = args.events
    engine = "PostgreSQL" if args.database_url else "SQLite (file)"
    outbox_rate = n / outbox["seconds"]
    floor_rate = n / floor
    print(f"webhook deliveries through the outbox, {engine}, {n} events over {SOURCES} sources")
    print(f"  appending {n} events (one transaction): {outbox['appended'] * 1000:8.0f} ms")
    print(
        f"  outbox drain (claim, sign, POST, record): {outbox['seconds']:6.2f} s  "
        f"{outbox_rate:8.0f} deliveries/s  {outbox['seconds'] / n * 1000:6.2f} ms each"
    )
    print(
        f"  floor: raw httpx2 POSTs, same bodies, concurrency {CONCURRENCY}: {floor:6.2f} s  "
        f"{floor_rate:8.0f} POSTs/s  {floor / n * 1000:6.2f} ms each"
    )
    print(f"  ratio floor/outbox: {floor_rate / outbox_rate:.1f}x slower through the outbox")


if __name__ == "__main__":
    asyncio.run(main())
