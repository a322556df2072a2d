"""Named leases: one holder at a time across processes, until the holder releases or the
lease runs out (a crashed holder blocks nobody for longer than its lease)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.store.models import Lease


async def take(
    db: async_sessionmaker[AsyncSession], name: str, owner: str, now: datetime, ttl: timedelta
) -> bool:
    """Take ``name`` for ``owner`` until ``now + ttl``; False while someone else holds it."""
    async with db() as session:
        taken = await session.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.until < now, Lease.owner == owner))
            .values(owner=owner, until=now + ttl)
        )
        if taken.rowcount:  # type: ignore[attr-defined]
            await session.commit()
            return True
        if await session.get(Lease, name) is not None:
            return False
        session.add(Lease(name=name, owner=owner, until=now + ttl))
        try:
            await session.commit()
        except IntegrityError:  # another process created it first
            return False
        return True


async def release(db: async_sessionmaker[AsyncSession], name: str, owner: str) -> None:
    async with db.begin() as session:
        await session.execute(delete(Lease).where(Lease.name == name, Lease.owner == owner))
