"""A local OAuth token endpoint for the scan benchmarks: answers every POST after a delay.

It runs in its own process, so the time it takes to answer never comes out of the event loop
being measured. Each answer is a fresh LinkedIn-shaped token (60 days, a new refresh token).

    .venv/bin/python bench/token_server.py --port 8765 --latency 0.02
prints "ready" once it listens; `start()` does that from a benchmark and returns the process.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import socket
import subprocess
import sys
from pathlib import Path

from aiohttp import web

PATH = "/oauth/v2/accessToken"


def app(latency: float) -> web.Application:
    counter = itertools.count()

    async def token(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(latency)
        n = next(counter)
        return web.json_response(
            {
                "access_token": f"AQV-renewed-{n:08d}-" + "x" * 150,
                "expires_in": 5_184_000,
                "refresh_token": f"AQX-renewed-{n:08d}-" + "y" * 100,
                "refresh_token_expires_in": 31_536_000,
                "scope": "openid,profile",
            }
        )

    application = web.Application()
    application.router.add_post("/{tail:.*}", token)
    return application


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start(latency: float) -> tuple[subprocess.Popen[str], str]:
    """The server in its own process; (process, token URL)."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own script
        [sys.executable, str(Path(__file__)), "--port", str(port), "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError("the token server did not start")
    return process, f"http://127.0.0.1:{port}{PATH}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.02)
    args = parser.parse_args()

    async def serve() -> None:
        runner = web.AppRunner(app(args.latency), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", args.port, backlog=1024).start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
