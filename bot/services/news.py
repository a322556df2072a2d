"""Which workspaces have something to announce, found for all of them at once.

The notice service claims and posts per workspace (:mod:`bot.services.notices`); asking it
about every workspace on every scan would cost a few queries and a write transaction per
workspace while nothing changes. So the scan asks only about workspaces with news: an expired
or revoked source whose episode was never announced (one query for all workspaces), or a
source with a warning due that it was not given (past a warning threshold, or a renewal
failing for longer than the workspace's RENEWAL_WARN_AFTER; checked on the rows the scan
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
from bot.services.notices import EXPIRY, warning_key, warning_threshold
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


def warning_due(
    row: Any, catalogue: Catalogue, now: datetime, settings: WorkspaceSettings
) -> str | None:
    """The key of the warning ``row`` (a live source) is due, or None.

    The same choice as :meth:`NoticeService.post_warnings`: a source that renews by itself
    is news only once its renewal has been failing for RENEWAL_WARN_AFTER (one notice per
    streak); another, when its token expires within the widest threshold, at its most
    urgent threshold crossed.
    """
    if renews_by_itself(row, catalogue.get(row.network)):
        if is_failing(row, renews=True) and row.failing_since <= now - settings.renewal_warn_after:
            return str(failing_key(row.failing_since))
        return None
    if row.expires_at is None or row.expires_at <= now:
        return None
    threshold = warning_threshold(row.expires_at, now, settings.warning_days)
    return None if threshold is None else warning_key(threshold, row.expires_at)


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
            key = warning_due(row, ctx.catalogue, now, settings(row.workspace_id))
        except ValueError:  # a malformed row: its own check reports it
            continue
        if key is not None:
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
