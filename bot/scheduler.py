"""Background jobs in `serve`: the expiry scan (with the team workflow's check) and the digest
check."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.services import Services

log = logging.getLogger(__name__)

# At most the shortest renewal window (X renews in the last 15 minutes of two hours).
SCAN_MINUTES = 5
DIGEST_CHECK_MINUTES = 5


def create_scheduler(services: Services) -> AsyncIOScheduler:
    """Jobs are safe to overlap across replicas: the database decides who posts."""
    scheduler = AsyncIOScheduler(timezone="UTC")

    async def scan() -> None:
        report = await services.scan.run()
        log.info("scan: %s", report.summary().replace("\n", "; "))
        # Then the team workflow's check: claim reminders, snoozes that ran out, escalations.
        workflow = await services.workflow.run_due()
        log.info("workflow: %s", workflow.summary())

    async def digest() -> None:
        await services.digest.run_due()

    scheduler.add_job(
        scan, "interval", minutes=SCAN_MINUTES, id="scan", max_instances=1, coalesce=True
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
