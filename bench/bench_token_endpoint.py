"""Benchmark (not a test): the API's token endpoint for a source that is not due for renewal.

Each server runs in its own process under uvicorn on 127.0.0.1, on the same fresh database
(SQLite in a temporary file, or the PostgreSQL database given with --database-url):

- the bot: `POST /api/v1/sources/{id}/token` with an API key, for an X source whose token has
  most of its two hours left (key check, source and credential reads, decryption, JSON);
- the floor: a bare Starlette endpoint on the same async engine that reads one row
  (the source's newest credential) and answers it as JSON.

A client in this process sends REQUESTS requests at CONCURRENCY, after a warm-up, for ROUNDS
rounds; the figures are medians over the rounds, and the ratio is bot / floor.

Run from the repository root:
    .venv/bin/python bench/bench_token_endpoint.py [--database-url URL] [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import httpx2  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

CONCURRENCY = 20
ROUNDS = 3
WARM_UP = 200


def env_for(database_url: str, key: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "TOKEN_ENCRYPTION_KEY": key,
        "SLACK_SIGNING_SECRET": "bench",
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # never called here
        "X_CLIENT_ID": "bench",
        "X_CLIENT_SECRET": "bench",
    }


async def prepare(env: dict[str, str]) -> tuple[int, str]:
    """One X source with a live token, and an API key: (source id, key)."""
    from bot.app import create_services
    from bot.clock import SystemClock
    from bot.config import Settings
    from bot.services.importer import import_records, parse_records
    from bot.store import migrate
    from bot.store.db import create_engine

    settings = Settings.from_env(env)
    engine = create_engine(settings.database_url)
    await migrate.upgrade(engine)
    services = create_services(settings, engine, SystemClock())
    now = datetime.now(UTC)
    record = {
        "network": "x",
        "account_id": "2244994945",
        "name": "Acme on X",
        "access_token": "a" * 80,
        "refresh_token": "r" * 80,
        "expires_at": (now + timedelta(hours=2)).isoformat(),
        "workspace": "T0001",
    }
    await import_records(
        services.ctx, services.workspaces, parse_records([record], services.ctx.catalogue)
    )
    (source,) = await services.sources.list("T0001")
    created = await services.api_keys.create("T0001", "bench")
    await engine.dispose()
    return source.id, created.key


def serve_bot(port: int) -> None:
    import uvicorn

    from bot.app import create_app
    from bot.config import Settings

    bot = create_app(Settings.from_env(), scheduler=False)
    uvicorn.run(bot.asgi, host="127.0.0.1", port=port, log_level="warning")


def serve_floor(port: int) -> None:
    import uvicorn
    from sqlalchemy import text
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from bot.config import Settings
    from bot.store.db import create_engine

    engine = create_engine(Settings.from_env().database_url)

    async def one_row(request: Request) -> JSONResponse:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT access_token, expires_at FROM credentials "
                        "WHERE source_id = :id ORDER BY id DESC LIMIT 1"
                    ),
                    {"id": int(request.path_params["id"])},
                )
            ).one()
        return JSONResponse({"access_token": row[0], "expires_at": str(row[1])})

    app = Starlette(routes=[Route("/floor/{id}", one_row, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def load(url: str, headers: dict[str, str], requests: int) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, requests/s) for ``requests`` POSTs at CONCURRENCY."""
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(requests):
        queue.put_nowait(n)
    limits = httpx2.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx2.AsyncClient(headers=headers, limits=limits, timeout=30) as client:

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                start = time.perf_counter()
                response = await client.post(url)
                latencies.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, response.text

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return statistics.median(latencies), p99, requests / elapsed


async def wait_up(url: str) -> None:
    async with httpx2.AsyncClient() as client:
        for _ in range(1200):
            try:
                await client.get(url)
                return
            except httpx2.TransportError:
                await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


async def measure(
    kind: str, env: dict[str, str], path: str, headers: dict[str, str], requests: int
) -> list[tuple[float, float, float]]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603, ASYNC220 - our own server, started once
        [sys.executable, __file__, "--serve", kind, "--port", str(port)],
        env={**os.environ, **env},
        cwd=ROOT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_up(base + "/")
        await load(base + path, headers, WARM_UP)
        return [await load(base + path, headers, requests) for _ in range(ROUNDS)]
    finally:
        process.terminate()
        process.wait(10)


def median_of(rounds: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    return tuple(statistics.median(r[i] for r in rounds) for i in range(3))  # type: ignore[return-value]


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        env = env_for(url, Fernet.generate_key().decode())
        if url.startswith("postgres"):
            from sqlalchemy import text

            from bot.store.db import create_engine

            engine = create_engine(url)
            async with engine.begin() as connection:
                await connection.execute(text("DROP SCHEMA public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
            await engine.dispose()
        source_id, key = await prepare(env)
        bot = median_of(
            await measure(
                "bot",
                env,
                f"/api/v1/sources/{source_id}/token",
                {"authorization": f"Bearer {key}"},
                args.requests,
            )
        )
        floor = median_of(await measure("floor", env, f"/floor/{source_id}", {}, args.requests))

    database = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(
        f"token endpoint, source not due, {database}, concurrency {CONCURRENCY}, "
        f"{args.requests} requests x {ROUNDS} rounds (medians), {os.cpu_count()} cores"
    )
    print(f"{'':<10}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}")
    print(f"{'bot':<10}{bot[0]:>10.2f}{bot[1]:>10.2f}{bot[2]:>10.0f}")
    print(f"{'floor':<10}{floor[0]:>10.2f}{floor[1]:>10.2f}{floor[2]:>10.0f}")
    ratios = (bot[0] / floor[0], bot[1] / floor[1], bot[2] / floor[2])
    print(f"{'ratio':<10}{ratios[0]:>10.2f}{ratios[1]:>10.2f}{ratios[2]:>10.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--serve", choices=["bot", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve == "bot":
        serve_bot(arguments.port)
    elif arguments.serve == "floor":
        serve_floor(arguments.port)
    else:
        asyncio.run(main(arguments))
