"""What a notice shows beside each source: who is on it, whether it is snoozed, how it may be
snoozed now, and since when its renewal has been failing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import Attention, Status, WorkspaceSettings
from bot.services.blips import is_failing
from bot.services.claims import current_claims
from bot.services.context import Context
from bot.services.snoozes import choices, deadline, live_snoozes
from bot.services.sources import renews_by_itself
from bot.status import effective_status
from bot.store.models import Source


async def attention_of(
    session: AsyncSession,
    ctx: Context,
    sources: Sequence[Source],
    settings: WorkspaceSettings,
    now: datetime,
) -> dict[int, Attention]:
    ids = [source.id for source in sources]
    claims = await current_claims(session, ids)
    snoozes = await live_snoozes(session, ids, now)
    found = {}
    for source in sources:
        renews = renews_by_itself(source, ctx.catalogue.get(source.network))
        status = effective_status(
            source.status, source.expires_at, now, settings.warning_days, renews
        )
        claim = claims.get(source.id)
        snooze = snoozes.get(source.id)
        offered = (
            choices(
                now,
                deadline(source, settings, renews),
                status.needs_reconnect,
                settings.max_snooze_days,
            )
            if status is not Status.ACTIVE
            else []
        )
        found[source.id] = Attention(
            claimed_by=claim.user_id if claim else None,
            snoozed_by=snooze.user_id if snooze else None,
            snoozed_until=snooze.until if snooze else None,
            choices=tuple(choice for choice, _ in offered),
            failing_since=source.failing_since if is_failing(source, renews) else None,
        )
    return found
