"""Background jobs in `serve`: the expiry scan (with the team workflow's check) and the digest
check."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_SUBMITTED
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.services import Services
from bot.services.scan import ROUND

log = logging.getLogger(__name__)

# At most the shortest renewal window (X renews in the last 15 minutes of two hours).
SCAN_MINUTES = int(ROUND.total_seconds() // 60)
DIGEST_CHECK_MINUTES = 5
# /readyz fails when the scheduler has not woken for two of its intervals and a minute.
STALE_AFTER_SECONDS = (2 * max(SCAN_MINUTES, DIGEST_CHECK_MINUTES) + 1) * 60


@dataclass
class Heartbeat:
    """When the scheduler last woke up to run a job (process time, not the bot's clock)."""

    now: Callable[[], float] = time.monotonic
    last: float | None = field(default=None, init=False)

    def beat(self) -> None:
        self.last = self.now()

    def age(self) -> float | None:
        """Seconds since the last beat; None before the first."""
        return None if self.last is None else self.now() - self.last

    @property
    def stale(self) -> bool:
        age = self.age()
        return age is None or age > STALE_AFTER_SECONDS


def create_scheduler(services: Services, heartbeat: Heartbeat | None = None) -> AsyncIOScheduler:
    """Jobs are safe to overlap across replicas: the database decides who does what.

    Scans run at every fifth minute of the hour by the clock, so that replicas scan at the
    same time and split the round's work between them, and once at start-up.
    """
    scheduler = AsyncIOScheduler(timezone="UTC")
    if heartbeat is not None:
        scheduler.add_listener(
            lambda _: heartbeat.beat(), EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
        )

    async def scan() -> None:
        try:
            report = await services.scan.run_scheduled()
        except Exception:
            log.exception("scan failed; the next one starts over")
            return
        log.info("scan: %s", report.summary().replace("\n", "; "))
        # Then the team workflow's check: claim reminders, snoozes that ran out, escalations.
        workflow = await services.workflow.run_due()
        log.info("workflow: %s", workflow.summary())

    async def digest() -> None:
        await services.digest.run_due()

    scheduler.add_job(
        scan,
        CronTrigger(minute=f"*/{SCAN_MINUTES}", timezone=UTC),
        next_run_time=datetime.now(UTC),
        id="scan",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        digest,
        "interval",
        minutes=DIGEST_CHECK_MINUTES,
        id="digest",
        max_instances=1,
        coalesce=True,
    )
    return scheduler
