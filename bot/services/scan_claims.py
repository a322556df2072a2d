"""The scan's claims on sources: a lease and the round's mark, taken in one transaction.

A claim is what lets several replicas scan at once. Only rows whose lease is free (never
taken, or run out by the lease clock) and that no scan of the same round has claimed yet can
be claimed. On PostgreSQL the candidates are locked with ``SELECT ... FOR UPDATE SKIP
LOCKED``, so replicas claiming at the same moment skip each other's rows instead of waiting
for them; SQLite serves one process and serializes writers anyway. The claimed rows and their
current credentials are read in the same transaction: nobody else changes them while the
lease holds, so the work needs no second read.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, and_, func, or_, select, update

from bot.services.context import Context
from bot.services.renewal import LEASE, Lease
from bot.store.models import Credential, Source


def claimable(ctx: Context, round_: str) -> ColumnElement[bool]:
    """Rows nobody holds now and that no scan of ``round_`` has claimed."""
    return and_(
        or_(Source.lease_until.is_(None), Source.lease_until < ctx.leases.now()),
        or_(Source.scan_round.is_(None), Source.scan_round != round_),
    )


async def claim(
    ctx: Context, source_ids: Collection[int], owner: str, round_: str
) -> dict[int, Lease]:
    """Claim what can be claimed of ``source_ids`` for ``owner``: the leases taken, by id,
    each with its source as it is now and its current credential."""
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
        taken = list(
            await session.scalars(
                update(Source)
                .where(Source.id.in_(stale), claimable(ctx, round_))
                .values(lease_owner=owner, lease_until=ctx.leases.after(LEASE), scan_round=round_)
                .returning(Source.id)
                .execution_options(synchronize_session=False)
            )
        )
        if not taken:
            return {}
        sources = await session.scalars(
            select(Source).where(Source.id.in_(taken)).execution_options(populate_existing=True)
        )
        newest = (
            select(func.max(Credential.id))
            .where(Credential.source_id.in_(taken))
            .group_by(Credential.source_id)
        )
        credentials = {
            credential.source_id: credential
            for credential in await session.scalars(
                select(Credential).where(Credential.id.in_(newest))
            )
        }
        return {
            source.id: Lease(owner, stale[source.id], source, credentials.get(source.id))
            for source in sources
        }


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


async def release_all(ctx: Context, owner: str, keep: Collection[int] = ()) -> None:
    """Give back every lease ``owner`` still holds, except on ``keep`` (after a scan was cut
    short: what it claimed and never started)."""
    async with ctx.db.begin() as session:
        await session.execute(
            update(Source)
            .where(Source.lease_owner == owner, Source.id.not_in(keep))
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
