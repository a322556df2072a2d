"""The scan's lanes: one per network (and a local one), each with a claimer and workers.

A plan put in a lane waits in its queue; the lane's claimer claims plans a few at a time
(one transaction per chunk) as its workers get free, and a worker does each claimed plan.
So lanes never wait for each other (a slow or paused network holds up its own lane only),
and a replica claims only what its workers can start soon, leaving the rest of a round to
the other replicas. At most :data:`MAX_OUTSTANDING` plans are queued or in progress in all
lanes together: putting one waits for room, which keeps memory flat however many sources a
scan walks.

What a claim and a visit do is the scan's (:mod:`bot.services.scan`); this module only moves
plans along and counts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from bot.services.renewal import Lease
from bot.services.scan_plan import Plan

MAX_OUTSTANDING = 1000  # plans queued or in progress at once, per scan
LOCAL = ""  # the lane of work without a network call (status changes, expiries, errors)
LOCAL_WORKERS = 4
# Workers per network lane, per unit of NETWORK_CONCURRENCY: more workers than calls, so a
# call starts while another worker is in the database before or after its own.
WORKERS_PER_CALL = 2
CLAIM_CHUNK = 8  # sources claimed per transaction, at most

Claim = Callable[[Sequence[Plan]], Awaitable[dict[int, Lease]]]
Visit = Callable[[Plan, Lease], Awaitable[None]]


class _Lane:
    """One lane: plans waiting, plans claimed for the workers, and its tasks."""

    def __init__(self, workers: int) -> None:
        self.todo: asyncio.Queue[Plan | None] = asyncio.Queue()  # None: nothing more comes
        self.ready: asyncio.Queue[tuple[Plan, Lease] | None] = asyncio.Queue()
        # Claimed and not yet taken by a worker: at most one per worker, so a replica claims
        # only what it can start soon and leaves the rest to the others.
        self.waiting = asyncio.Semaphore(workers)
        self.workers = workers
        self.tasks: list[asyncio.Task[None]] = []


class Lanes:
    """The lanes of one scan. ``claim`` claims plans (the leases of those it got), ``visit``
    does one claimed plan and gives its lease back, ``unclaimed`` is told of a plan whose
    source another scan had."""

    def __init__(
        self,
        concurrency: int,
        claim: Claim,
        visit: Visit,
        unclaimed: Callable[[Plan], None],
    ) -> None:
        self.concurrency = concurrency  # network calls at once per network
        self._claim = claim
        self._visit = visit
        self._unclaimed = unclaimed
        self._room = asyncio.Semaphore(MAX_OUTSTANDING)
        self._lanes: dict[str, _Lane] = {}

    async def put(self, plan: Plan, key: str) -> None:
        """Queue ``plan`` in lane ``key`` (a network's name, or :data:`LOCAL`), once there is
        room."""
        await self._room.acquire()
        self._lane(key).todo.put_nowait(plan)

    async def close(self) -> None:
        """Nothing more comes: wait until every lane has done its plans."""
        for lane in self._lanes.values():
            lane.todo.put_nowait(None)
        tasks = [task for lane in self._lanes.values() for task in lane.tasks]
        if tasks:
            await asyncio.wait(tasks)

    def cancel(self) -> None:
        """Cancel the lanes' work and drop the plans not begun (their leases, if claimed,
        are the scan's to sweep)."""
        for lane in self._lanes.values():
            for task in lane.tasks:
                task.cancel()
            for queue in (lane.todo, lane.ready):
                while not queue.empty():
                    if queue.get_nowait() is not None:
                        self._room.release()

    def _lane(self, key: str) -> _Lane:
        lane = self._lanes.get(key)
        if lane is None:
            count = LOCAL_WORKERS if key == LOCAL else WORKERS_PER_CALL * self.concurrency
            lane = self._lanes[key] = _Lane(count)
            name = f"scan-{key or 'local'}"
            lane.tasks.append(asyncio.create_task(self._claimer(lane), name=name))
            lane.tasks += [asyncio.create_task(self._work(lane), name=name) for _ in range(count)]
        return lane

    async def _claimer(self, lane: _Lane) -> None:
        """Claim the lane's plans a few at a time, as its workers take them."""
        closed = False
        while not closed:
            plan = await lane.todo.get()
            if plan is None:
                break
            await lane.waiting.acquire()
            batch = [plan]
            # A chunk a claim, while the plans are there: waiting for workers to take what
            # was claimed before (at most one claimed and not taken per worker).
            while len(batch) < min(CLAIM_CHUNK, lane.workers) and not lane.todo.empty():
                more = lane.todo.get_nowait()
                if more is None:
                    closed = True
                    break
                await lane.waiting.acquire()
                batch.append(more)
            leases = await self._claim(batch)
            for plan in batch:
                lease = leases.get(plan.row.id)
                if lease is None:  # another scan has it, or the scan is stopping
                    lane.waiting.release()
                    self._unclaimed(plan)
                    self._room.release()
                else:
                    lane.ready.put_nowait((plan, lease))
        for _ in range(lane.workers):
            lane.ready.put_nowait(None)

    async def _work(self, lane: _Lane) -> None:
        """A lane's worker: do the claimed plans until the lane is closed."""
        while (item := await lane.ready.get()) is not None:
            lane.waiting.release()
            try:
                await self._visit(*item)
            finally:
                self._room.release()
