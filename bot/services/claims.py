"""Claims ("I'll take it"): who is on a source's trouble, as notices show it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Claim, NoticeItem


async def current_claims(session: AsyncSession, source_ids: Iterable[int]) -> dict[int, Claim]:
    """The latest claim of each source made on a notice item still open: a claim on an
    item that was restored belongs to trouble that is over."""
    ids = list(source_ids)
    if not ids:
        return {}
    rows = (
        await session.scalars(
            select(Claim)
            .join(NoticeItem, NoticeItem.id == Claim.item_id)
            .where(Claim.source_id.in_(ids), NoticeItem.restored_at.is_(None))
            .order_by(Claim.id)
        )
    ).all()
    return {claim.source_id: claim for claim in rows}
