"""Many small write transactions as one: what is queued while a commit is under way goes into
the next one.

A scan commits every renewal on its own (new tokens, the source, the event, the lease given
back). Each commit is a transaction: a connection, BEGIN, COMMIT, on SQLite the write lock
and a sync to disk. With renewals finishing a few milliseconds apart, one writer that takes
whatever has queued up and commits it together does the same work for a fraction of that.

Each job is a function of the session, run in order in the shared transaction. If one fails,
the whole transaction is rolled back and every job of it is run again in a transaction of its
own, so one job's failure is that job's only (and a database failure is everyone's).

A job once queued is committed even if its caller is cancelled meanwhile (shutdown): a
renewal's new tokens are worth keeping, as its refresh token was spent. While a caller's job
is queued or being committed, its task is in :attr:`GroupCommit.pending`, so the scan knows
not to give back a lease that the commit itself gives back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.internal import database_failed

T = TypeVar("T")
Job = Callable[[AsyncSession], Awaitable[Any]]

MAX_BATCH = 64


class GroupCommit:
    """A writer for one scan; :meth:`close` when done."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        gate: AbstractAsyncContextManager[Any] | None = None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.db = db
        self.gate = gate or contextlib.nullcontext()  # held around each transaction
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Job, asyncio.Future[Any]] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.pending: set[asyncio.Task[Any]] = set()  # callers whose job is not committed yet

    async def run(self, job: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``job`` in the next transaction; its result once that transaction committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        caller = asyncio.current_task()
        assert caller is not None
        self.pending.add(caller)

        def done(_: asyncio.Future[T]) -> None:
            self.pending.discard(caller)
            if not future.cancelled():
                future.exception()  # retrieved: a cancelled caller's error is not "never retrieved"

        future.add_done_callback(done)
        self._queue.put_nowait((job, future))
        if self._task is None:
            self._task = asyncio.create_task(self._write(), name="group-commit")
        # Shielded: the caller's cancellation leaves the job queued and the caller pending.
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Write what is queued, then stop."""
        if self._task is not None:
            self._queue.put_nowait(None)
            await self._task
            self._task = None

    async def _write(self) -> None:
        closing = False
        while not closing:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch and not self._queue.empty():
                more = self._queue.get_nowait()
                if more is None:
                    closing = True
                    break
                batch.append(more)
            await self._commit(batch)  # a cancelled caller's job too (see the module's doc)

    async def _commit(self, batch: list[tuple[Job, asyncio.Future[Any]]]) -> None:
        try:
            async with self.gate, self.db.begin() as session:
                results = [await job(session) for job, _ in batch]
        except Exception as err:
            if len(batch) == 1 or database_failed(err):  # the database's failure is everyone's
                for _, future in batch:
                    _settle(future, error=err)
                return
            for one in batch:  # each alone: one job's failure stays that job's
                await self._commit([one])
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)


def _settle(
    future: asyncio.Future[Any], result: Any = None, error: BaseException | None = None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
