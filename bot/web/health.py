"""Liveness: the process answers and its database does too; and the delivery backlog."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.delivery.outbox import Outbox

log = logging.getLogger(__name__)


def routes(engine: AsyncEngine, outbox: Outbox) -> list[Route]:
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

    return [Route("/healthz", healthz, methods=["GET"])]
