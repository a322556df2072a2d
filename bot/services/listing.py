"""Sources a page at a time, for the API: id order, so a cursor is the last id seen."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from bot.domain import SourceInfo, Status
from bot.services.context import Context
from bot.services.sources import source_info, warning_days
from bot.store.models import Source

STATUS_CHUNK = 500  # rows read at a time when filtering by status


async def sources_page(
    ctx: Context,
    workspace_id: str,
    *,
    after: int | None,
    limit: int,
    status: Status | None = None,
    network: str | None = None,
) -> tuple[Sequence[SourceInfo], bool]:
    """Up to ``limit`` sources of a workspace with ids above ``after``, in id order, and
    whether more follow. ``status`` is the status shown (the clock's verdict too, not only the
    stored one), so it is filtered here, reading in chunks, rather than in SQL."""
    chunk = limit + 1 if status is None else max(limit + 1, STATUS_CHUNK)
    found: list[SourceInfo] = []
    last = after or 0
    now = ctx.clock.now()
    async with ctx.read() as session:
        days = await warning_days(session, ctx, workspace_id)
        while len(found) <= limit:
            query = (
                select(Source)
                .where(Source.workspace_id == workspace_id, Source.id > last)
                .order_by(Source.id)
                .limit(chunk)
            )
            if network is not None:
                query = query.where(Source.network == network)
            rows = (await session.scalars(query)).all()
            found.extend(
                info
                for info in (source_info(ctx, row, now, days) for row in rows)
                if status is None or info.status == status
            )
            if len(rows) < chunk:
                break
            last = rows[-1].id
    return found[:limit], len(found) > limit
