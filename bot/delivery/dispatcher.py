"""The dispatcher: claims due outbox rows and hands each to the sender of its kind.

Delivery is at least once: a row is marked delivered only after its sender succeeded, and a
row whose process died mid-delivery is claimed again when its lease runs out. Failures are
the senders' to classify: :class:`DeliveryError` with ``permanent`` stops the row (a person
sees it); otherwise it is tried again on its sender's schedule, honouring Retry-After.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement

from bot.clock import Clock
from bot.delivery.outbox import Candidate, Claimed, Outbox
from bot.delivery.pacing import Pacer

log = logging.getLogger(__name__)

POLL_INTERVAL = 1.0  # seconds between looks at the outbox when nothing woke the dispatcher
BATCH = 50
CONCURRENCY = 16


class DeliveryError(Exception):
    """A try failed. ``reason`` is plain words (no secret), shown to people and in the log.

    ``held`` marks a rate limit: the other side refused with Retry-After, and the pause holds
    every pending row that matches ``held`` (those behind the same limit), not only this one.
    Such a try is not counted against the row's retries.
    """

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        held: ColumnElement[bool] | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.held = held


class NotReady(Exception):
    """The row must wait for something else (not a failure; the try is not counted)."""


@dataclass(frozen=True)
class RetrySchedule:
    """Delays after the 1st, 2nd, ... failed try (the last one repeats), and how long a row
    may keep failing before it is given up."""

    delays: Sequence[timedelta]
    give_up_after: timedelta

    def next_try(
        self, attempt: int, created_at: datetime, now: datetime, retry_after: float | None
    ) -> datetime | None:
        delay = self.delays[min(attempt, len(self.delays)) - 1]
        if retry_after is not None:
            delay = max(delay, timedelta(seconds=retry_after))
        at = now + delay
        return None if at - created_at > self.give_up_after else at


class Sender(Protocol):
    kinds: frozenset[str]
    schedule: RetrySchedule
    pacer: Pacer | None  # spaces the sends of each lane; None: no lanes

    def lane(self, row: Candidate) -> str | None:
        """The lane of ``row`` (Slack: its channel), whose sends the pacer spaces."""
        ...

    async def deliver(self, row: Claimed) -> None:
        """Deliver ``row`` and record it delivered (with any effects) through the outbox;
        raise DeliveryError or NotReady otherwise."""
        ...

    async def retrying(self, row: Claimed, error: DeliveryError) -> None:
        """The try failed and the row will be tried again (already rescheduled)."""
        ...

    async def gave_up(self, row: Claimed, error: DeliveryError) -> None:
        """The row failed for good (already recorded as failed)."""
        ...


@dataclass
class DrainReport:
    delivered: int = 0
    failed: int = 0
    retrying: int = 0
    errors: list[str] = field(default_factory=list)


class Doorbell:
    """Rung after a commit that queued outbox rows, so the dispatcher looks at once instead of
    at its next poll. Safe to ring when no dispatcher listens."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def ring(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> None:  # noqa: ASYNC109 - a poll interval
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()


class Dispatcher:
    """Claims due rows as room frees up and delivers up to ``concurrency`` at once, pacing
    each sender's lanes and holding back what a rate limit holds."""

    def __init__(
        self,
        outbox: Outbox,
        clock: Clock,
        doorbell: Doorbell | None = None,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.outbox = outbox
        self.clock = clock
        self.doorbell = doorbell or Doorbell()
        self.concurrency = concurrency
        self.senders: dict[str, Sender] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._busy = 0  # pumps of this process with rows in flight
        self._idle = asyncio.Condition()
        self._skipped = False  # the last claim left rows for lanes that were not free
        self._held_until: datetime | None = None  # the latest pause a rate limit asked for
        self._holding: dict[int, tuple[Pacer, str]] = {}  # picked rows' lanes, until claimed
        self._waiting: dict[int, Claimed] = {}  # claimed rows waiting for their lane's turn
        self._shutting_down = False  # within stop(): rows not begun are given back

    def add(self, sender: Sender) -> None:
        for kind in sender.kinds:
            self.senders[kind] = sender

    async def drain(self, max_rounds: int = 10_000, patience: float = 0.0) -> DrainReport:
        """Deliver until nothing is due now and nothing of this process is in flight (rows
        waiting for a later retry stay queued). With ``patience`` (seconds), rows that a rate
        limit holds back for at most that long are waited for and delivered too."""
        report = DrainReport()
        for _ in range(max_rounds):
            if await self._pump(report, patience, background=False):
                continue
            if not self._busy:
                break
            async with self._idle:  # the background loop holds rows; let it finish them
                await self._idle.wait_for(lambda: not self._busy)
        return report

    async def _pump(
        self, report: DrainReport, patience: float = 0.0, background: bool = True
    ) -> int:
        """Claim and deliver until nothing more is due (or the lanes' pacing is all that holds
        rows back, in which case wait for it); return how many rows were tried. The
        background loop's pump stops claiming when the dispatcher stops."""
        tried = 0
        flying: set[asyncio.Task[None]] = set()
        try:
            while True:
                room = self.concurrency - len(flying)
                stopping = background and self._stopping
                if not stopping and (room * 2 >= self.concurrency or not flying):
                    if not flying:
                        self._busy += 1  # from before the claim: drain must wait for it
                    try:
                        rows = await self.outbox.claim(room, list(self.senders), self._pick)
                    except BaseException:
                        if not flying:
                            await self._settled()
                        raise
                    self._unhold({row.id for row in rows})
                    if not rows and not flying:
                        await self._settled()
                    flying.update(asyncio.create_task(self._deliver(r, report)) for r in rows)
                    tried += len(rows)
                if flying:
                    _, flying = await asyncio.wait(
                        flying, timeout=self._opening(), return_when=asyncio.FIRST_COMPLETED
                    )
                    if not flying:
                        await self._settled()
                    continue
                wait = self._opening() if self._skipped else None
                if wait is None and patience > 0:
                    wait = self._held_for(patience)
                if wait is None or stopping:
                    return tried
                await asyncio.sleep(wait)
        finally:
            if flying:  # cancelled: the rows' leases run out and they are claimed again
                for task in flying:
                    task.cancel()
                await self._settled()

    async def _settled(self) -> None:
        self._busy = max(self._busy - 1, 0)
        async with self._idle:
            self._idle.notify_all()

    def _pick(self, candidates: Sequence[Candidate]) -> list[int]:
        """The rows to claim: at most one per lane, and none of a lane that is not free."""
        picked: list[int] = []
        lanes: set[str] = set()
        self._skipped = False
        self._holding = {}
        for candidate in candidates:
            sender = self.senders[candidate.kind]
            lane = sender.lane(candidate) if sender.pacer is not None else None
            if lane is not None:
                assert sender.pacer is not None
                if lane in lanes or not sender.pacer.free(lane):
                    self._skipped = True
                    continue
                lanes.add(lane)
                sender.pacer.hold(lane)
                self._holding[candidate.id] = (sender.pacer, lane)
            picked.append(candidate.id)
        return picked

    def _unhold(self, claimed: set[int]) -> None:
        """Free the lanes of rows picked but not claimed (another replica took them)."""
        for row_id, (pacer, lane) in self._holding.items():
            if row_id not in claimed:
                pacer.done(lane)
        self._holding = {}

    def _opening(self) -> float | None:
        """Seconds until a lane that is not free now frees up."""
        waits = [
            wait
            for sender in set(self.senders.values())
            if sender.pacer is not None and (wait := sender.pacer.next_opening()) is not None
        ]
        return min(waits) if waits else None

    def _held_for(self, patience: float) -> float | None:
        """Seconds until the rows a rate limit holds are due, if that is within ``patience``."""
        if self._held_until is None:
            return None
        wait = (self._held_until - self.clock.now()).total_seconds()
        if wait > patience:
            return None
        self._held_until = None
        return max(wait, 0.0)

    async def _deliver(self, row: Claimed, report: DrainReport) -> None:
        sender = self.senders[row.kind]
        lane = sender.lane(_candidate(row)) if sender.pacer is not None else None
        try:
            if lane is not None:
                assert sender.pacer is not None
                # Claimed and not begun until its turn: if the wait is cut (stop), the row
                # stays listed, and stop gives it back.
                self._waiting[row.id] = row
                await sender.pacer.turn(lane)
                del self._waiting[row.id]
            if self._shutting_down:  # give the row back untried, for the next process
                await self.outbox.release([row])
                return
            await sender.deliver(row)
        except NotReady as wait:
            await self.outbox.retry_later(
                row, str(wait), self.clock.now() + timedelta(seconds=5), count_attempt=False
            )
            return
        except DeliveryError as err:
            await self._failed(sender, row, err, report)
            return
        except Exception as err:  # a bug in a sender: retried, never lost, and logged loudly
            log.exception("delivery %s (%s) raised", row.id, row.kind)
            await self._failed(
                sender, row, DeliveryError(f"internal error: {type(err).__name__}"), report
            )
            return
        finally:
            if lane is not None:
                assert sender.pacer is not None
                sender.pacer.done(lane)
        report.delivered += 1

    async def _failed(
        self, sender: Sender, row: Claimed, err: DeliveryError, report: DrainReport
    ) -> None:
        now = self.clock.now()
        if err.held is not None and err.retry_after is not None:
            await self._rate_limited(sender, row, err, report, now)
            return
        at = (
            None
            if err.permanent
            else sender.schedule.next_try(row.attempt, row.created_at, now, err.retry_after)
        )
        if at is not None:
            log.info(
                "delivery %s (%s) failed, retrying at %s: %s", row.id, row.kind, at, err.reason
            )
            await self.outbox.retry_later(row, err.reason, at)
            report.retrying += 1
            await sender.retrying(row, err)
            return
        log.warning("delivery %s (%s) failed for good: %s", row.id, row.kind, err.reason)
        await self.outbox.fail(row, err.reason)
        report.failed += 1
        report.errors.append(err.reason)
        await sender.gave_up(row, err)

    async def _rate_limited(
        self, sender: Sender, row: Claimed, err: DeliveryError, report: DrainReport, now: datetime
    ) -> None:
        """Slow down as asked: this row and every row behind the same limit wait until
        Retry-After has passed; the try is not counted (it was not the row's failure)."""
        assert err.held is not None and err.retry_after is not None
        until = now + timedelta(seconds=err.retry_after)
        if until - row.created_at > sender.schedule.give_up_after:
            log.warning("delivery %s (%s) failed for good: %s", row.id, row.kind, err.reason)
            await self.outbox.fail(row, err.reason)
            report.failed += 1
            report.errors.append(err.reason)
            await sender.gave_up(row, err)
            return
        log.info("delivery %s (%s) rate limited until %s", row.id, row.kind, until)
        await self.outbox.retry_later(row, err.reason, until, count_attempt=False)
        await self.outbox.hold(err.held, until)
        if self._held_until is None or until > self._held_until:
            self._held_until = until
        report.retrying += 1
        await sender.retrying(row, err)

    # --- the background loop in `serve` -----------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-dispatcher")

    async def stop(self, grace: float | None = None) -> None:
        """Stop taking rows; finish the deliveries under way, for at most ``grace`` seconds
        (None: as long as the senders' timeouts), then cancel them. Rows claimed and not
        begun (waiting for their lane's turn) are given back; a row cancelled midway keeps its
        lease until it runs out, as whether it reached its receiver is unknown."""
        self._stopping = True
        self._shutting_down = True
        self.doorbell.ring()
        try:
            if self._task is not None:
                done, _ = await asyncio.wait([self._task], timeout=grace)
                if not done:
                    self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
                self._task = None
            if self._waiting:
                await self.outbox.release(list(self._waiting.values()))
                self._waiting.clear()
        finally:
            self._shutting_down = False

    async def _run(self) -> None:
        while not self._stopping:
            try:
                tried = await self._pump(DrainReport())
            except Exception:  # the database is away; keep the loop alive and try again
                log.exception("outbox dispatcher round failed")
                tried = 0
            if not tried and not self._stopping:
                await self.doorbell.wait(POLL_INTERVAL)


def _candidate(row: Claimed) -> Candidate:
    return Candidate(id=row.id, workspace_id=row.workspace_id, kind=row.kind, target=row.target)
