"""Background jobs in `serve`: the expiry scan and the digest check."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.services import Services
from bot.services.scan import ROUND

log = logging.getLogger(__name__)

# At most the shortest renewal window (X renews in the last 15 minutes of two hours).
SCAN_MINUTES = int(ROUND.total_seconds() // 60)
DIGEST_CHECK_MINUTES = 5


def create_scheduler(services: Services) -> AsyncIOScheduler:
    """Jobs are safe to overlap across replicas: the database decides who does what.

    Scans run at every fifth minute of the hour by the clock, so that replicas scan at the
    same time and split the round's work between them, and once at start-up.
    """
    scheduler = AsyncIOScheduler(timezone="UTC")

    async def scan() -> None:
        try:
            report = await services.scan.run_scheduled()
        except Exception:
            log.exception("scan failed; the next one starts over")
            return
        log.info("scan: %s", report.summary().replace("\n", "; "))

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
