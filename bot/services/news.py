"""Which workspaces have something to announce, found for all of them at once.

The notice service claims and posts per workspace (:mod:`bot.services.notices`); asking it
about every workspace on every scan would cost a few queries and a write transaction per
workspace while nothing changes. So the scan asks only about workspaces with news: an expired
or revoked source whose episode was never announced (one query for all workspaces), or a
source with a warning due that it was not given (past a warning threshold, or a renewal
failing for longer than the workspace's RENEWAL_WARN_AFTER, or a refresh token dying
within a warning window; checked on the rows the scan
reads anyway, one query per batch). All are read from the database, not remembered, so a
crash between a change and its notice loses nothing. The rules are the notice service's
(:meth:`NoticeService.post_warnings`); snoozes are left to it: a snoozed source only makes
its workspace asked once more, and the notice service says nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, exists, literal, select

from bot.domain import Status, WorkspaceSettings
from bot.networks import Catalogue
from bot.services.blips import failing_key, is_failing
from bot.services.context import Context
from bot.services.notices import EXPIRY, refresh_warning_key, warning_key, warning_threshold
from bot.services.sources import renews_by_itself
from bot.store.models import NoticeItem, Source

# The SQL twin of notices.expiry_key(source): "expiry:{episode}".
EXPIRY_KEY = literal(f"{EXPIRY}:") + cast(Source.episode, String)


async def unannounced_expiries(ctx: Context) -> set[str]:
    """Workspaces with an expired or revoked source whose episode has no notice yet."""
    query = (
        select(Source.workspace_id)
        .where(
            Source.status.in_([Status.EXPIRED, Status.REVOKED]),
            ~exists().where(NoticeItem.source_id == Source.id, NoticeItem.key == EXPIRY_KEY),
        )
        .distinct()
    )
    async with ctx.read() as session:
        return set((await session.scalars(query)).all())


def warnings_due(
    row: Any, catalogue: Catalogue, now: datetime, settings: WorkspaceSettings
) -> list[str]:
    """The keys of the warnings ``row`` (a live source) is due.

    The same choice as :meth:`NoticeService.post_warnings`: a source that renews by itself
    is news once its renewal has been failing for RENEWAL_WARN_AFTER (one notice per
    streak), and when its refresh token dies within the widest threshold (at its most urgent
    threshold crossed); another, when its token expires within the widest threshold.
    """
    days = settings.warning_days
    if renews_by_itself(row, catalogue.get(row.network), now):
        keys = []
        if is_failing(row, renews=True) and row.failing_since <= now - settings.renewal_warn_after:
            keys.append(str(failing_key(row.failing_since)))
        ends = row.refresh_expires_at
        threshold = warning_threshold(ends, now, days) if ends is not None else None
        if threshold is not None:
            keys.append(refresh_warning_key(threshold, ends))
        return keys
    if row.expires_at is None or row.expires_at <= now:
        return []
    threshold = warning_threshold(row.expires_at, now, days)
    return [] if threshold is None else [warning_key(threshold, row.expires_at)]


async def unwarned(
    ctx: Context,
    rows: Sequence[Any],
    now: datetime,
    settings: Callable[[str], WorkspaceSettings],
) -> set[str]:
    """Workspaces among ``rows`` (live sources) with a warning due that was never given."""
    due: dict[tuple[int, str], str] = {}
    for row in rows:
        try:
            keys = warnings_due(row, ctx.catalogue, now, settings(row.workspace_id))
        except ValueError:  # a malformed row: its own check reports it
            continue
        for key in keys:
            due[(row.id, key)] = row.workspace_id
    if not due:
        return set()
    async with ctx.read() as session:
        given = set(
            (
                await session.execute(
                    select(NoticeItem.source_id, NoticeItem.key).where(
                        NoticeItem.source_id.in_({source_id for source_id, _ in due})
                    )
                )
            ).all()
        )
    return {workspace for item, workspace in due.items() if item not in given}
