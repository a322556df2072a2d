"""Quiet on blips: a renewal failing for passing reasons is news only once it has lasted.

The scan records every failure at once (``/sources`` and the App Home show it), but a
"renewal failing" notice is queued only when the streak has lasted the workspace's
``RENEWAL_WARN_AFTER``; one notice per streak (key ``failing:{start}``). When renewal works
again, :func:`bot.services.workflow.recovered` turns that notice into "recovered by itself".
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Status
from bot.services.context import Context
from bot.services.sources import renews_by_itself
from bot.store.models import Source

FAILING = "failing"  # the kind of notice that says a renewal keeps failing


def failing_key(failing_since: datetime) -> str:
    return f"{FAILING}:{int(failing_since.timestamp())}"


def is_failing(source: Source, renews: bool) -> bool:
    """Its renewal is failing for passing reasons (the source still counts as expiring)."""
    return (
        renews
        and source.status == Status.EXPIRING
        and source.failures > 0
        and source.failing_since is not None
    )


async def failing_due(
    session: AsyncSession, ctx: Context, workspace_id: str, warn_after: timedelta, now: datetime
) -> list[Source]:
    """The workspace's sources whose renewal has been failing for ``warn_after`` or longer."""
    rows = (
        await session.scalars(
            select(Source).where(
                Source.workspace_id == workspace_id,
                Source.status == Status.EXPIRING,
                Source.failures > 0,
                Source.failing_since <= now - warn_after,
            )
        )
    ).all()
    return [s for s in rows if is_failing(s, renews_by_itself(s, ctx.catalogue.get(s.network)))]
