"""Build the bot: services, the Bolt app, and the ASGI app that serves both."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot import handlers
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.crypto import cipher_for
from bot.delivery.dispatcher import Doorbell
from bot.delivery.outbox import Outbox
from bot.handlers.authorize import WorkspaceAuthorize
from bot.handlers.limit import WorkLimit
from bot.metrics import Metrics
from bot.networks import load_catalogue
from bot.oauth.transport import SharedTransport
from bot.scheduler import Heartbeat, create_scheduler
from bot.services import Services, build_services
from bot.services.context import Context
from bot.services.events import EventLog
from bot.services.leases import ClockLeases, LeaseClock, database_leases
from bot.slack_api import SlackClients, SlackGateway
from bot.slack_tokens import InstalledClients
from bot.store import migrate
from bot.store.db import create_engine, pool_size, session_factories
from bot.store.slack_stores import InstallationStore
from bot.web import api, health
from bot.web import connect as connect_routes
from bot.web import metrics as metrics_routes
from bot.web.install import INSTALL_PATH, REDIRECT_PATH, install_flow
from bot.web.request_id import RequestId

log = logging.getLogger(__name__)


# How long shutdown waits for work under way: listeners after their ack, the scan's renewals
# and checks, the outbox's deliveries.
SHUTDOWN_GRACE = 10.0


@dataclass
class Bot:
    """Everything one process runs; ``start``/``stop`` are the ASGI lifespan."""

    settings: Settings
    engine: AsyncEngine
    services: Services
    bolt: AsyncApp
    asgi: Starlette
    scheduler_enabled: bool
    work_limit: WorkLimit
    scheduler: AsyncIOScheduler | None = field(default=None, init=False)
    socket_mode: AsyncSocketModeHandler | None = None  # Slack's requests over Socket Mode
    heartbeat: Heartbeat = field(default_factory=Heartbeat)

    async def start(self) -> None:
        await migrate.upgrade(self.engine)
        self.services.dispatcher.start()
        if self.scheduler_enabled:
            self.scheduler = create_scheduler(self.services, self.heartbeat)
            self.scheduler.start()
            self.heartbeat.beat()
        if self.socket_mode is not None:
            await self.socket_mode.connect_async()  # type: ignore[no-untyped-call]

    async def stop(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Stop taking work, let the work under way finish for up to ``grace`` seconds, give
        back the leases not used (sources and outbox rows), and close."""
        if self.socket_mode is not None:
            await self.socket_mode.close_async()  # type: ignore[no-untyped-call]
        if self.scheduler is not None:
            self.scheduler.pause()  # no new jobs; shutting it down would cancel the running ones
        listeners = asyncio.ensure_future(self.work_limit.wait_idle(grace))
        await asyncio.gather(
            self.services.scan.stop(grace),
            self.services.dispatcher.stop(grace),
        )
        if not await listeners:
            log.warning("shutdown: listeners still at work after %s s are cut short", grace)
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        await self.services.aclose()
        await self.engine.dispose()


def slack_client(
    settings: Settings, retries: bool = True, token: str | None = None
) -> AsyncWebClient:
    """A Web API client on SLACK_API_URL, with ``token`` (default: SLACK_BOT_TOKEN);
    ``retries`` adds slack-sdk's own retries on 429 and 5xx, which sleep in the call. The
    outbox's clients have none: the outbox reschedules instead."""
    client = AsyncWebClient(
        token=token or settings.slack_bot_token, base_url=settings.slack_api_url
    )
    if retries:
        client.retry_handlers.extend(
            [
                AsyncRateLimitErrorRetryHandler(max_retry_count=2),
                AsyncServerErrorRetryHandler(max_retry_count=2),
            ]
        )
    return client


def create_services(
    settings: Settings, engine: AsyncEngine, clock: Clock, leases: LeaseClock | None = None
) -> Services:
    """The services on ``engine``; leases are timed by ``clock`` unless ``leases`` is given
    (production passes :func:`database_leases`)."""
    doorbell = Doorbell()
    writer, reader = session_factories(engine, after_outbox_commit=doorbell.ring)
    cipher = cipher_for(settings)
    metrics = Metrics()
    clients: SlackClients
    if settings.install_mode:
        assert settings.slack_client_id and settings.slack_client_secret
        clients = InstalledClients(
            store=InstallationStore(settings.slack_client_id, engine, cipher),
            rotator=AsyncTokenRotator(
                client_id=settings.slack_client_id,
                client_secret=settings.slack_client_secret,
                client=slack_client(settings, retries=False),  # rotation on SLACK_API_URL too
            ),
            make_client=lambda token: slack_client(settings, retries=False, token=token),
            db=writer,
            read=reader,
            clock=clock,
            metrics=metrics,
        )
    else:
        clients = SlackClients(SlackGateway(slack_client(settings, retries=False), metrics), reader)
    ctx = Context(
        settings=settings,
        clock=clock,
        db=writer,
        read=reader,
        cipher=cipher,
        catalogue=load_catalogue(settings),
        slack=SlackGateway(slack_client(settings), metrics),
        slack_clients=clients,
        events=EventLog(),
        outbox=Outbox(writer, reader, clock),
        leases=leases or ClockLeases(clock),
        network_transport=SharedTransport(),
        metrics=metrics,
    )
    return build_services(ctx, doorbell)


def create_bolt(services: Services, engine: AsyncEngine) -> AsyncApp:
    """Bolt, in the mode the settings chose: every option explicit, so that nothing Bolt
    finds in ``os.environ`` (SLACK_CLIENT_ID, SLACK_BOT_TOKEN...) changes what runs."""
    settings = services.ctx.settings
    clients = services.ctx.slack_clients
    flow = None
    if isinstance(clients, InstalledClients):
        flow = install_flow(services, clients, engine)
    return AsyncApp(
        client=services.ctx.slack.client,  # each request's client copies its base_url
        signing_secret=settings.slack_signing_secret or "",  # unused over Socket Mode
        authorize=WorkspaceAuthorize(services),  # type: ignore[arg-type]  # an AsyncAuthorize
        oauth_flow=flow,
    )


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    scheduler: bool = True,
    leases: LeaseClock | None = None,
) -> Bot:
    """Build the whole bot from ``settings``; nothing is created at import time."""
    settings.require_slack()
    engine = create_engine(settings.database_url, settings.database_pool_size)
    # A given clock (tests, dry runs) times leases too, so moving it past a lease ends it;
    # otherwise the database's clock does, which replicas with skewed clocks agree on.
    if leases is None:
        leases = ClockLeases(clock) if clock is not None else database_leases(engine)
    services = create_services(settings, engine, clock or SystemClock(), leases)
    bolt = create_bolt(services, engine)
    work_limit = WorkLimit(pool_size(engine))
    handlers.register(bolt, services, work_limit)
    slack_handler = AsyncSlackRequestHandler(bolt)

    async def slack_requests(request: Request) -> Response:
        return await slack_handler.handle(request)

    slack_routes = []
    if not settings.socket_mode:
        slack_routes.append(Route("/slack/events", slack_requests, methods=["POST"]))
    if settings.install_mode:  # the install itself is a browser's, over HTTP
        slack_routes.append(Route(INSTALL_PATH, slack_requests, methods=["GET"]))
        slack_routes.append(Route(REDIRECT_PATH, slack_requests, methods=["GET"]))
    socket_mode = None
    if settings.slack_app_token:
        socket_mode = AsyncSocketModeHandler(
            bolt, app_token=settings.slack_app_token, web_client=services.ctx.slack.client
        )

    bot: Bot
    heartbeat = Heartbeat()

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bot.start()
        try:
            yield
        finally:
            await bot.stop()

    asgi = Starlette(
        routes=[
            *slack_routes,
            api.mount(services),
            *connect_routes.routes(services),
            *health.routes(engine, services.ctx.outbox, heartbeat if scheduler else None),
            *metrics_routes.routes(services),
        ],
        middleware=[Middleware(RequestId)],
        lifespan=lifespan,
    )
    bot = Bot(
        settings,
        engine,
        services,
        bolt,
        asgi,
        scheduler,
        work_limit,
        socket_mode=socket_mode,
        heartbeat=heartbeat,
    )
    return bot
