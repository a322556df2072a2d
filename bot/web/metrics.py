"""``GET /metrics``: Prometheus's text format, behind ``METRICS_TOKEN`` when one is set."""

from __future__ import annotations

import hmac

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.services import Services
from bot.store.models import Source


def routes(services: Services) -> list[Route]:
    ctx = services.ctx
    token = ctx.settings.metrics_token

    async def scrape(request: Request) -> Response:
        if token is not None and not _authorized(request, token):
            return Response(
                "metrics need `Authorization: Bearer <METRICS_TOKEN>`\n",
                status_code=401,
                media_type="text/plain",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        await _read_gauges(services)
        return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", scrape, methods=["GET"])]


async def _read_gauges(services: Services) -> None:
    """The service-wide gauges, from the database: sources by network and status (as the
    last scan left them) and the outbox's backlog."""
    ctx = services.ctx
    metrics = ctx.metrics
    async with ctx.read() as session:
        counts = (
            await session.execute(
                select(Source.network, Source.status, func.count()).group_by(
                    Source.network, Source.status
                )
            )
        ).all()
    metrics.sources.clear()  # a pair that no longer exists must not keep its last value
    for network, status, count in counts:
        metrics.sources.labels(network=network, status=status).set(count)
    backlog = await ctx.outbox.backlog()
    metrics.outbox_pending.set(backlog.pending)
    metrics.outbox_failing.set(backlog.failing)
    oldest = backlog.oldest_pending_at
    age = (ctx.clock.now() - oldest).total_seconds() if oldest is not None else 0.0
    metrics.outbox_oldest_pending.set(max(age, 0.0))


def _authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)
