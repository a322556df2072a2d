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

from bot.clock import Clock
from bot.delivery.outbox import Claimed, Outbox

log = logging.getLogger(__name__)

POLL_INTERVAL = 1.0  # seconds between looks at the outbox when nothing woke the dispatcher
BATCH = 50
CONCURRENCY = 16


class DeliveryError(Exception):
    """A try failed. ``reason`` is plain words (no secret), shown to people and in the log."""

    def __init__(
        self, reason: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


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

    async def deliver(self, row: Claimed) -> None:
        """Deliver ``row`` and record it delivered (with any effects) through the outbox;
        raise DeliveryError or NotReady otherwise."""
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
        self.senders: dict[str, Sender] = {}
        self._limit = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._rounds = 0  # rounds under way in this process
        self._idle = asyncio.Condition()
        self._waiting: dict[int, Claimed] = {}  # claimed rows not yet handed to a sender
        self._shutting_down = False  # within stop(): rows not begun are given back

    def add(self, sender: Sender) -> None:
        for kind in sender.kinds:
            self.senders[kind] = sender

    async def deliver_due(self, report: DrainReport | None = None) -> int:
        """One round: claim what is due (one row per order key) and deliver it; return how
        many rows were tried."""
        report = report or DrainReport()
        self._rounds += 1
        try:
            rows = await self.outbox.claim(BATCH, kinds=list(self.senders))
            if rows:
                await asyncio.gather(*(self._deliver(row, report) for row in rows))
            return len(rows)
        finally:
            self._rounds -= 1
            async with self._idle:
                self._idle.notify_all()

    async def drain(self, max_rounds: int = 10_000) -> DrainReport:
        """Deliver until nothing is due now and no round of this process is under way (rows
        waiting for a later retry stay queued)."""
        report = DrainReport()
        for _ in range(max_rounds):
            if await self.deliver_due(report):
                continue
            if not self._rounds:
                break
            async with self._idle:  # the background loop holds rows; let it finish them
                await self._idle.wait_for(lambda: not self._rounds)
        return report

    async def _deliver(self, row: Claimed, report: DrainReport) -> None:
        sender = self.senders[row.kind]
        self._waiting[row.id] = row
        async with self._limit:
            del self._waiting[row.id]
            if self._shutting_down:  # give the row back untried, for the next process
                await self.outbox.release([row])
                return
            try:
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
        report.delivered += 1

    async def _failed(
        self, sender: Sender, row: Claimed, err: DeliveryError, report: DrainReport
    ) -> None:
        now = self.clock.now()
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
            return
        log.warning("delivery %s (%s) failed for good: %s", row.id, row.kind, err.reason)
        await self.outbox.fail(row, err.reason)
        report.failed += 1
        report.errors.append(err.reason)
        await sender.gave_up(row, err)

    # --- the background loop in `serve` -----------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-dispatcher")

    async def stop(self, grace: float | None = None) -> None:
        """Stop taking rows; finish the deliveries under way, for at most ``grace`` seconds
        (None: as long as the senders' timeouts), then cancel them. Rows claimed and not
        begun are given back; a row cancelled midway keeps its lease until it runs out, as
        whether it reached its receiver is unknown."""
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
                tried = await self.deliver_due()
            except Exception:  # the database is away; keep the loop alive and try again
                log.exception("outbox dispatcher round failed")
                tried = 0
            if not tried and not self._stopping:
                await self.doorbell.wait(POLL_INTERVAL)
