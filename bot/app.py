"""Build the bot: services, the Bolt app, and the ASGI app that serves both."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot import handlers
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.crypto import cipher_for
from bot.delivery.dispatcher import Doorbell
from bot.delivery.outbox import Outbox
from bot.handlers.limit import WorkLimit
from bot.networks import load_catalogue
from bot.oauth.transport import SharedTransport
from bot.scheduler import create_scheduler
from bot.services import Services, build_services
from bot.services.context import Context
from bot.services.events import EventLog
from bot.services.leases import ClockLeases, LeaseClock, database_leases
from bot.slack_api import SlackClients, SlackGateway
from bot.store import migrate
from bot.store.db import create_engine, pool_size, session_factories
from bot.web import api, health
from bot.web import connect as connect_routes

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

    async def start(self) -> None:
        await migrate.upgrade(self.engine)
        self.services.dispatcher.start()
        if self.scheduler_enabled:
            self.scheduler = create_scheduler(self.services)
            self.scheduler.start()

    async def stop(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Stop taking work, let the work under way finish for up to ``grace`` seconds, give
        back the leases not used (sources and outbox rows), and close."""
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


def slack_client(settings: Settings, retries: bool = True) -> AsyncWebClient:
    """A Web API client; ``retries`` adds slack-sdk's own retries on 429 and 5xx, which sleep
    in the call. The outbox's client has none: the outbox reschedules instead."""
    client = AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)
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
    ctx = Context(
        settings=settings,
        clock=clock,
        db=writer,
        read=reader,
        cipher=cipher_for(settings),
        catalogue=load_catalogue(settings),
        slack=SlackGateway(slack_client(settings)),
        slack_clients=SlackClients(SlackGateway(slack_client(settings, retries=False))),
        events=EventLog(),
        outbox=Outbox(writer, reader, clock),
        leases=leases or ClockLeases(clock),
        network_transport=SharedTransport(),
    )
    return build_services(ctx, doorbell)


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
    bolt = AsyncApp(
        client=services.ctx.slack.client,
        signing_secret=settings.slack_signing_secret,
    )
    work_limit = WorkLimit(pool_size(engine))
    handlers.register(bolt, services, work_limit)
    slack_handler = AsyncSlackRequestHandler(bolt)

    async def slack_events(request: Request) -> Response:
        return await slack_handler.handle(request)

    bot: Bot

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bot.start()
        try:
            yield
        finally:
            await bot.stop()

    asgi = Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            api.mount(services),
            *connect_routes.routes(services),
            *health.routes(engine, services.ctx.outbox),
        ],
        lifespan=lifespan,
    )
    bot = Bot(settings, engine, services, bolt, asgi, scheduler, work_limit)
    return bot
