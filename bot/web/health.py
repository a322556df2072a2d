"""Liveness (/healthz: the process and its database answer, with the delivery backlog) and
readiness (/readyz: also the schema is current and the scheduler is awake), for load balancers
and orchestrators."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.delivery.outbox import Outbox
from bot.scheduler import Heartbeat
from bot.store import migrate

log = logging.getLogger(__name__)


def routes(engine: AsyncEngine, outbox: Outbox, heartbeat: Heartbeat | None = None) -> list[Route]:
    """``heartbeat`` is None when this process runs no scheduler (``--no-scheduler``)."""
    head = migrate.head()

    async def healthz(_: Request) -> Response:
        """Liveness: 200 while the database answers, with the delivery backlog for a person
        to read (a backlog alone is no reason to restart the process)."""
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            backlog = await outbox.backlog()
        except Exception:
            log.exception("health check: database unreachable")
            return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)
        delivery = {"pending": backlog.pending, "failing": backlog.failing}
        return JSONResponse({"ok": True, "database": "ok", "delivery": delivery})

    async def readyz(_: Request) -> Response:
        checks: dict[str, str] = {}
        try:
            revision = await migrate.current(engine)
        except Exception:
            log.exception("readiness check: database unreachable")
            checks["database"] = "unreachable"
        else:
            checks["database"] = "ok"
            checks["migrations"] = "ok" if revision == head else f"at {revision}, code needs {head}"
        if heartbeat is None:
            checks["scheduler"] = "off"
        elif heartbeat.stale:
            age = heartbeat.age()
            checks["scheduler"] = "not started" if age is None else f"last woke {age:.0f} s ago"
        else:
            checks["scheduler"] = "ok"
        ready = all(value in {"ok", "off"} for value in checks.values())
        return JSONResponse({"ok": ready, **checks}, status_code=200 if ready else 503)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
