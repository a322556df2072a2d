"""The scan's claims on sources: a lease and the round's mark, taken in one transaction.

A claim is what lets several replicas scan at once. Only rows whose lease is free (never
taken, or run out by the lease clock) and that no scan of the same round has claimed yet can
be claimed. On PostgreSQL the candidates are locked with ``SELECT ... FOR UPDATE SKIP
LOCKED``, so replicas claiming at the same moment skip each other's rows instead of waiting
for them; SQLite serves one process and serializes writers anyway.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, and_, or_, select, update

from bot.services.context import Context
from bot.services.renewal import LEASE
from bot.store.models import Source


def claimable(ctx: Context, round_: str) -> ColumnElement[bool]:
    """Rows nobody holds now and that no scan of ``round_`` has claimed."""
    return and_(
        or_(Source.lease_until.is_(None), Source.lease_until < ctx.leases.now()),
        or_(Source.scan_round.is_(None), Source.scan_round != round_),
    )


async def claim(
    ctx: Context, source_ids: Collection[int], owner: str, round_: str
) -> dict[int, bool]:
    """Claim what can be claimed of ``source_ids`` for ``owner``; return the claimed ids, each
    with whether its claim took over a lease that had run out (work interrupted earlier)."""
    if not source_ids:
        return {}
    async with ctx.db.begin() as session:
        query = select(Source.id, Source.lease_until).where(
            Source.id.in_(source_ids), claimable(ctx, round_)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        stale = {row.id: row.lease_until is not None for row in await session.execute(query)}
        if not stale:
            return {}
        # The same conditions again: the UPDATE alone decides, whatever the SELECT saw.
        taken = await session.scalars(
            update(Source)
            .where(Source.id.in_(stale), claimable(ctx, round_))
            .values(lease_owner=owner, lease_until=ctx.leases.after(LEASE), scan_round=round_)
            .returning(Source.id)
            .execution_options(synchronize_session=False)
        )
        return {source_id: stale[source_id] for source_id in taken}


async def release(ctx: Context, source_ids: Collection[int], owner: str) -> None:
    """Give back ``owner``'s leases on ``source_ids`` (the round's mark stays)."""
    if not source_ids:
        return
    async with ctx.db.begin() as session:
        await session.execute(
            update(Source)
            .where(Source.id.in_(source_ids), Source.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
