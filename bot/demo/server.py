"""Put the demo together: the real bot, the sandbox and the demo network on one port.

The bot is built by :func:`bot.app.create_app` from settings that point its Slack API at
the sandbox and LinkedIn's and X's URLs at the demo network, with a fresh SQLite database and key
in a temporary directory. Its own ASGI app (routes, lifespan, scheduler) is mounted at
``/``; the sandbox and the network live under ``/demo``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TextIO

import uvicorn
from cryptography.fernet import Fernet
from starlette.applications import Starlette
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route

from bot.app import Bot, create_app
from bot.config import Settings
from bot.demo.clock import OffsetClock
from bot.demo.interactions import Interactions
from bot.demo.network import SAM, Client, DemoNetwork
from bot.demo.sandbox import Sandbox
from bot.demo.workspace import CHANNEL, TEAM_ID, TEAM_NAME, Workspace

log = logging.getLogger(__name__)

HOST = "127.0.0.1"  # the demo is for this computer only
NETWORK = "linkedin"
# The demo starts with one page source, so the account that manages two pages has a job.
SEED_PAGE = ("2001", "Acme Careers")
SEED_PAGE_DAYS_LEFT = 40


@dataclass
class Demo:
    app: Starlette
    bot: Bot
    sandbox: Sandbox
    network: DemoNetwork
    clock: OffsetClock
    url: str


def demo_env(
    port: int, workdir: Path, linkedin: Client, x: Client, signing_secret: str
) -> dict[str, str]:
    """The bot's whole environment in the demo; the person's own environment is not read."""
    public = f"http://localhost:{port}"
    internal = f"http://{HOST}:{port}"
    return {
        "SLACK_SIGNING_SECRET": signing_secret,
        "SLACK_BOT_TOKEN": f"xoxb-demo-{secrets.token_hex(8)}",
        "SLACK_API_URL": f"{internal}/demo/slack/api/",
        "SLACK_NOTIFY_CHANNEL": CHANNEL,
        "DATABASE_URL": f"sqlite:///{workdir / 'sources-bot-demo.db'}",
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PUBLIC_URL": public,
        "PORT": str(port),
        "DIGEST_ALWAYS_POST": "true",
        "LINKEDIN_CLIENT_ID": linkedin.client_id,
        "LINKEDIN_CLIENT_SECRET": linkedin.client_secret,
        # The browser goes to the authorize page; the bot calls the others itself.
        "LINKEDIN_AUTHORIZE_URL": f"{public}/demo/network/authorize",
        "LINKEDIN_TOKEN_URL": f"{internal}/demo/network/token",
        "LINKEDIN_USERINFO_URL": f"{internal}/demo/network/userinfo",
        "LINKEDIN_ORGANIZATIONS_URL": f"{internal}/demo/network/organizations",
        "X_CLIENT_ID": x.client_id,
        "X_CLIENT_SECRET": x.client_secret,
        "X_AUTHORIZE_URL": f"{public}/demo/network/authorize",
        "X_TOKEN_URL": f"{internal}/demo/network/token",
        "X_USERINFO_URL": f"{internal}/demo/network/x/users/me",
    }


def build(port: int, workdir: Path, *, scheduler: bool = True) -> Demo:
    """The demo's ASGI app for ``port``; nothing runs until its lifespan starts."""
    clock = OffsetClock()
    network = DemoNetwork(clock)
    callback = f"http://localhost:{port}/oauth/callback"
    linkedin = network.register_client(f"{callback}/linkedin")
    x = network.register_x_client(f"{callback}/x")
    signing_secret = secrets.token_hex(16)
    settings = Settings.from_env(demo_env(port, workdir, linkedin, x, signing_secret))
    bot = create_app(settings, clock=clock, scheduler=scheduler)
    workspace = Workspace(clock)
    internal = f"http://{HOST}:{port}"
    interactions = Interactions(
        workspace, internal, signing_secret, f"{internal}/demo/slack/response"
    )
    sandbox = Sandbox(workspace, interactions, bot.services, clock)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Mounted apps get no lifespan of their own: run the bot's (migrations, scheduler
        # and whatever else it starts) around the demo's.
        async with bot.asgi.router.lifespan_context(bot.asgi):
            await seed(bot, network, clock)
            try:
                yield
            finally:
                await interactions.close()

    async def root(_: object) -> Response:
        return RedirectResponse("/demo", status_code=302)

    app = Starlette(
        routes=[
            Route("/", root, methods=["GET"]),
            Route("/demo", sandbox.page, methods=["GET"]),
            Mount("/demo/network", routes=network.routes()),
            Mount("/demo", routes=sandbox.routes()),
            Mount("", app=bot.asgi),
        ],
        lifespan=lifespan,
    )
    return Demo(app, bot, sandbox, network, clock, f"http://localhost:{port}/demo")


async def seed(bot: Bot, network: DemoNetwork, clock: OffsetClock) -> None:
    """The workspace, and one LinkedIn page connected earlier by Sam, who manages it."""
    from bot.services.importer import import_records, parse_records

    services = bot.services
    await services.workspaces.ensure(TEAM_ID, TEAM_NAME)
    expires_at = clock.now() + timedelta(days=SEED_PAGE_DAYS_LEFT)
    token = network.mint(SAM, expires_at, "openid profile rw_organization_admin")
    record = {
        "network": NETWORK,
        "account_id": SEED_PAGE[0],
        "name": SEED_PAGE[1],
        "kind": "organization",
        "access_token": token,
        "expires_at": expires_at.isoformat(),
        "workspace": TEAM_ID,
    }
    records = parse_records([record], services.ctx.catalogue)
    await import_records(services.ctx, services.workspaces, records)


def bind(port: int) -> socket.socket:
    """The listening socket, bound before anything else so a busy port fails at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


@contextlib.asynccontextmanager
async def running(
    sock: socket.socket, workdir: Path, *, scheduler: bool = True
) -> AsyncIterator[Running]:
    """Serve the demo on ``sock`` (see :func:`bind`) until the block ends."""
    demo = build(sock.getsockname()[1], workdir, scheduler=scheduler)
    config = uvicorn.Config(
        demo.app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=2
    )
    server = _Server(config, demo.sandbox.workspace.close)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():  # start-up failed; its exception says why
            await task
            raise RuntimeError("the demo server stopped while starting")
        await asyncio.sleep(0.01)
    try:
        yield Running(demo, server, task)
    finally:
        demo.sandbox.workspace.close()
        server.should_exit = True
        await task


@dataclass
class Running:
    demo: Demo
    server: uvicorn.Server
    task: asyncio.Task[None]


async def serve(port: int, out: TextIO = sys.stdout, started: float | None = None) -> int:
    """Run the demo until interrupted; print its URL once it answers."""
    started = time.monotonic() if started is None else started
    for noisy in ("apscheduler", "alembic.runtime.migration"):  # start-up chatter
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        sock = bind(port)
    except OSError as err:
        print(
            f"sources-bot demo: port {port} is not free ({err.strerror}); "
            f"try sources-bot demo --port {port + 1}",
            file=sys.stderr,
        )
        return 1
    with sock, tempfile.TemporaryDirectory(prefix="sources-bot-demo-") as tmp:
        async with running(sock, Path(tmp)) as run:
            seconds = time.monotonic() - started
            print(
                f"sources-bot demo is ready: {run.demo.url}  (started in {seconds:.1f} s)", file=out
            )
            print("Open it in a browser. Ctrl+C stops the demo and throws its data away.", file=out)
            out.flush()
            await asyncio.shield(run.task)
    return 0


class _Server(uvicorn.Server):
    """uvicorn's server, but Ctrl+C and SIGTERM end ``serve`` quietly instead of raising the
    signal again once it returns, so the temporary directory is always removed. Stopping
    first releases the page's long polls."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.on_exit()
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
