"""The scan's group commit on its own: jobs queued together share a transaction, one job's
failure is that job's only, and a job queued before its caller was cancelled is committed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.group_commit import GroupCommit
from bot.store.db import create_engine


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE jobs (n INTEGER PRIMARY KEY)"))
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


def insert(n: int) -> Any:
    async def job(session: AsyncSession) -> int:
        await session.execute(text("INSERT INTO jobs (n) VALUES (:n)"), {"n": n})
        return n

    return job


async def stored(db: async_sessionmaker[AsyncSession]) -> list[int]:
    async with db() as session:
        return list((await session.scalars(text("SELECT n FROM jobs ORDER BY n"))).all())


class CountingGate:
    """A gate that counts the transactions held under it."""

    def __init__(self) -> None:
        self.entered = 0

    async def __aenter__(self) -> None:
        self.entered += 1

    async def __aexit__(self, *_: object) -> None:
        return None


async def test_jobs_queued_together_share_one_transaction(
    db: async_sessionmaker[AsyncSession],
) -> None:
    gate = CountingGate()
    writer = GroupCommit(db, gate)
    results = await asyncio.gather(*(writer.run(insert(n)) for n in range(10)))
    await writer.close()

    assert results == list(range(10))
    assert await stored(db) == list(range(10))
    assert gate.entered < 10  # the first alone, the other nine together
    assert not writer.pending


async def test_one_failing_job_fails_alone(db: async_sessionmaker[AsyncSession]) -> None:
    writer = GroupCommit(db)
    results = await asyncio.gather(
        writer.run(insert(1)),
        writer.run(insert(2)),
        writer.run(insert(1)),  # the same key again: this job alone fails
        writer.run(insert(3)),
        return_exceptions=True,
    )
    await writer.close()

    assert results[:2] == [1, 2] and results[3] == 3
    assert isinstance(results[2], Exception)
    assert await stored(db) == [1, 2, 3]


async def test_a_job_queued_before_its_caller_was_cancelled_is_committed(
    db: async_sessionmaker[AsyncSession],
) -> None:
    gate = asyncio.Lock()
    writer = GroupCommit(db, gate)
    async with gate:  # the writer waits here with the job taken
        caller = asyncio.create_task(writer.run(insert(7)))
        await asyncio.sleep(0.05)
        assert caller in writer.pending
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        assert caller in writer.pending  # the commit will give the lease back, not the caller
    await writer.close()

    assert await stored(db) == [7]
    assert caller not in writer.pending
