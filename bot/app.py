"""Build the bot: services, the Bolt app, and the ASGI app that serves both."""

from __future__ import annotations

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
from bot.scheduler import create_scheduler
from bot.services import Services, build_services
from bot.services.context import Context
from bot.services.events import EventLog
from bot.slack_api import SlackClients, SlackGateway
from bot.store import migrate
from bot.store.db import create_engine, pool_size, session_factories
from bot.web import api, health
from bot.web import connect as connect_routes

log = logging.getLogger(__name__)


@dataclass
class Bot:
    """Everything one process runs; ``start``/``stop`` are the ASGI lifespan."""

    settings: Settings
    engine: AsyncEngine
    services: Services
    bolt: AsyncApp
    asgi: Starlette
    scheduler_enabled: bool
    scheduler: AsyncIOScheduler | None = field(default=None, init=False)

    async def start(self) -> None:
        await migrate.upgrade(self.engine)
        self.services.dispatcher.start()
        if self.scheduler_enabled:
            self.scheduler = create_scheduler(self.services)
            self.scheduler.start()

    async def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        await self.services.dispatcher.stop()
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


def create_services(settings: Settings, engine: AsyncEngine, clock: Clock) -> Services:
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
    )
    return build_services(ctx, doorbell)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    scheduler: bool = True,
) -> Bot:
    """Build the whole bot from ``settings``; nothing is created at import time."""
    settings.require_slack()
    engine = create_engine(settings.database_url, settings.database_pool_size)
    services = create_services(settings, engine, clock or SystemClock())
    bolt = AsyncApp(
        client=services.ctx.slack.client,
        signing_secret=settings.slack_signing_secret,
    )
    handlers.register(bolt, services, WorkLimit(pool_size(engine)))
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
    bot = Bot(settings, engine, services, bolt, asgi, scheduler)
    return bot
