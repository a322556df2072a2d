"""The scan: renew what is due, find what died, warn ahead, and say each thing once.

How one scan goes, with memory flat in the number of sources:

1. **Walk.** Sources worth a look are read in batches of :data:`BATCH` in id order, only the
   columns the decisions need; :mod:`bot.services.scan_plan` decides which (SQL leaves out
   those with nothing to do, so a scan that finds nothing new reads little) and what each
   needs, by the same rules as everywhere and each workspace's settings.
2. **Lanes.** What needs doing goes to its network's lane (work without a network call to
   a local one; :mod:`bot.services.scan_lanes`). A lane's claimer claims its sources a few
   at a time as its workers get free (:mod:`bot.services.scan_claims`: a lease and the
   round's mark, with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so replicas scanning at
   once split the work source by source, and none renews, checks or expires a source
   another took. Calls run at most NETWORK_CONCURRENCY per network, and a network that
   answers 429 or hangs is paused (:mod:`bot.services.pacing`); lanes never wait for each
   other. The walk goes on meanwhile, within the lanes' room for plans in progress.
3. **The work on one source** (this module): renew, expire, check, or change its status,
   under its claim; renewals' commits are grouped (:mod:`bot.services.group_commit`).
4. **Health checks.** Every live token is shown to its network's identity endpoint about once
   a day: at most ``HEALTH_CHECKS_PER_NETWORK`` per network per scan (per replica), the
   never checked first, then the longest unchecked.
5. **Notices**, only for workspaces with news (:mod:`bot.services.news`, and what this scan
   changed); the notice service's claims make each announcement once.

Rounds: the scheduler's scans share a round named after the five minutes they start in, by
the lease clock (the database's in production), so what one replica claimed in a round the
others skip. A scan run by hand (``sources-bot scan``, tests) is a round of its own.

A bug or a broken row stops that source only (:mod:`bot.services.internal`). A database
error stops the scan: the work under way finishes, the leases not used are given back, and
the error is raised; the next scan starts over. :meth:`ScanService.stop` (shutdown) does the
same, and after its grace period cancels what is still waiting on a network, keeping the
leases of renewals that may have reached it (or whose answer waits to be committed).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery.outbox import forget_sent
from bot.domain import LastError, Status
from bot.oauth.errors import CredentialRejected, TransientError
from bot.services import news, scan_claims
from bot.services.context import Context
from bot.services.group_commit import GroupCommit
from bot.services.internal import (
    clear_internal,
    database_failed,
    internal_reason,
    record_internal,
)
from bot.services.measured import times_scans
from bot.services.notices import NoChannel, NoticeService
from bot.services.pacing import NetworkPacer, Paused
from bot.services.page_offers import forget_offers
from bot.services.renewal import Lease, RenewalService, Renewed, expire
from bot.services.scan_lanes import LOCAL, Lanes
from bot.services.scan_plan import (
    HEALTH_CHECK_INTERVAL,
    LIVE,
    SCANNED,
    Plan,
    Planner,
    is_internal,
    label,
)
from bot.services.scan_report import ScanReport
from bot.services.sources import decrypt
from bot.services.workspaces import WorkspaceService
from bot.store.db import pool_size
from bot.store.models import ConnectAttempt, Source, Workspace, slack_oauth_states

log = logging.getLogger(__name__)

ATTEMPT_RETENTION = timedelta(days=1)
SENT_RETENTION = timedelta(days=30)
BATCH = 500  # sources read per query
ROUND = timedelta(minutes=5)  # the scheduler's scans of one round start in the same slot
STOP_CANCEL_WAIT = 5.0  # seconds for cancelled work to give its leases back at shutdown
SHUTTING_DOWN = "the bot is shutting down"


class _Run:
    """The state of one scan; its lanes are set by :meth:`ScanService.run`."""

    def __init__(self, ctx: Context, round_: str, writers: int, planner: Planner) -> None:
        self.round = round_
        self.owner = str(uuid.uuid4())
        self.now = planner.now
        self.report = planner.report
        self.planner = planner
        self.pacer = NetworkPacer(ctx.settings.network_concurrency)
        self.news: set[str] = set()  # workspaces with something to announce
        self.lanes: Lanes
        # The scan's writes at once (see ScanService._writers); renewals' commits go through
        # one writer that commits them together.
        self.db = asyncio.Semaphore(writers)
        self.writer = GroupCommit(ctx.db, self.db)
        self.kept: set[int] = set()  # leases kept on purpose (a renewal cut on the wire)
        self.cut = False  # cancelled, stopped or failed: leases may be left to sweep
        self.error: BaseException | None = None  # the database failed: the scan stops
        self.done = asyncio.Event()

    def fail(self, err: BaseException) -> None:
        if self.error is None:
            self.error = err


class ScanService:
    def __init__(
        self,
        ctx: Context,
        workspaces: WorkspaceService,
        notices: NoticeService,
        renewal: RenewalService,
    ) -> None:
        self.ctx = ctx
        self.workspaces = workspaces
        self.notices = notices
        self.renewal = renewal
        self._runs: set[_Run] = set()
        self._stopping = False

    # --- a scan -----------------------------------------------------------------------------

    @times_scans
    async def run(self, round_: str | None = None) -> ScanReport:
        """One scan of every workspace; safe beside another, in this process or a replica.

        ``round_`` names a round shared with other replicas (the scheduler's); without it
        the scan is a round of its own and looks at everything.
        """
        run = await self._start(round_ or f"run:{uuid.uuid4().hex}")
        self._runs.add(run)
        if self._stopping:
            run.pacer.stop(SHUTTING_DOWN)
        try:
            try:
                run.report.checked = await self._live()
                await self._walk(run)
                await self._health_checks(run)
            except asyncio.CancelledError:
                self._cancel(run)
                raise
            except Exception as err:
                if not database_failed(err):
                    raise
                run.fail(err)
            finally:  # the work under way ends, and gives its leases back
                await self._settle(run)
            if run.error is not None:
                log.error("scan stopped: the database failed (%s)", type(run.error).__name__)
                raise run.error
            if not self._stopping:
                await self._announce(run)
                await self._forget_old()
            return run.report
        finally:
            self._runs.discard(run)
            run.done.set()

    async def _start(self, round_: str) -> _Run:
        """A scan's state: its decisions with each installed workspace's settings (read once
        here), and its lanes."""
        workspaces = await self.workspaces.installed()
        planner = Planner(
            self.ctx,
            self.ctx.clock.now(),
            {w.id: self.workspaces.settings(w) for w in workspaces},
            self.workspaces.settings(None),
            ScanReport(),
        )
        run = _Run(self.ctx, round_, self._writers(), planner)

        async def visit(plan: Plan, lease: Lease) -> None:
            await self._visit(run, plan, lease)

        async def claim(plans: Sequence[Plan]) -> dict[int, Lease]:
            return await self._claim(run, plans)

        run.lanes = Lanes(run.pacer.concurrency, claim, visit, planner.unclaimed)
        return run

    async def run_scheduled(self) -> ScanReport:
        """The scheduler's scan: in the round of the five minutes it starts in."""
        async with self.ctx.read() as session:
            now = await self.ctx.leases.read(session)
        return await self.run(round_name(now))

    async def stop(self, grace: float) -> None:
        """Shutdown: start nothing new, let the work under way finish for up to ``grace``
        seconds, then cancel it; leases not used are given back."""
        self._stopping = True
        runs = list(self._runs)
        if not runs:
            return
        for run in runs:
            run.pacer.stop(SHUTTING_DOWN)
        waiting = [asyncio.ensure_future(run.done.wait()) for run in runs]
        _, late = await asyncio.wait(waiting, timeout=grace)
        if late:
            for run in runs:
                self._cancel(run)
            await asyncio.wait(late, timeout=STOP_CANCEL_WAIT)
        for future in waiting:
            future.cancel()

    def _cancel(self, run: _Run) -> None:
        """Cancel the lanes' work and empty them; the leases left are swept at the end."""
        run.cut = True
        run.lanes.cancel()

    def _writers(self) -> int:
        """How many of the scan's write transactions may run at once.

        SQLite has one writer: scan writes that queue here go one after the other at once,
        where the database's busy handler would have them sleep and retry. PostgreSQL takes
        them side by side, within the pool's steady connections (one is left to the walk), as
        connections opened beyond them are closed again on return.
        """
        engine = self.ctx.read.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            return 1
        if engine.dialect.name == "sqlite":
            return 1
        return max(pool_size(engine) - 1, 1)

    async def _live(self) -> int:
        """How many sources are live: the ones this scan covers, most of them by SQL alone."""
        async with self.ctx.read() as session:
            return int(await session.scalar(select(func.count()).where(LIVE)) or 0)

    def _halted(self, run: _Run) -> bool:
        return self._stopping or run.error is not None

    # --- 1. the walk ----------------------------------------------------------------------

    async def _walk(self, run: _Run) -> None:
        after = 0
        worth_a_look = run.planner.worth_a_look()
        while not self._halted(run):
            async with self.ctx.read() as session:
                rows = (
                    await session.execute(
                        select(*SCANNED)
                        .where(Source.id > after, LIVE, worth_a_look)
                        .order_by(Source.id)
                        .limit(BATCH)
                    )
                ).all()
            if not rows:
                return
            after = rows[-1].id
            run.news |= await news.unwarned(self.ctx, rows, run.now, run.planner.settings)
            await self._queue(run, [run.planner.plan(row) for row in rows])

    async def _queue(self, run: _Run, plans: Sequence[Plan]) -> None:
        """Put the plans that need work in their lanes (waiting for room first)."""
        for plan in plans:
            if not plan.needs_claim:
                continue
            if plan.health:
                run.planner.health_queued.add(plan.row.id)
            await run.lanes.put(plan, plan.row.network if plan.networked else LOCAL)

    async def _claim(self, run: _Run, plans: Sequence[Plan]) -> dict[int, Lease]:
        if self._halted(run):
            return {}
        try:
            async with run.db:
                return await scan_claims.claim(
                    self.ctx, [plan.row.id for plan in plans], run.owner, run.round
                )
        except Exception as err:
            if database_failed(err):
                run.fail(err)
            else:  # a bug in the claim: these sources wait for the next scan
                log.exception("scan: claiming %s source(s) failed", len(plans))
            return {}

    # --- 3. the work on one source --------------------------------------------------------

    async def _visit(self, run: _Run, plan: Plan, lease: Lease) -> None:
        """Do ``plan`` under the scan's claim, then give the lease back."""
        row = plan.row
        keep_lease = False  # True once given back, or when it must run out by itself
        try:
            if self._halted(run):
                return
            keep_lease = await self._do(run, plan, lease)
        except asyncio.CancelledError:
            # A renewal that may have reached the network keeps its lease until it runs
            # out: a single-use refresh token must not be sent again meanwhile. One whose
            # answer waits in the group commit is committed still, and gives its lease back
            # there.
            task = asyncio.current_task()
            keep_lease = plan.renew and (
                task in run.pacer.on_the_wire or task in run.writer.pending
            )
            if keep_lease:
                run.kept.add(row.id)
            raise
        except Paused as paused:
            run.report.add(
                "transient", f"{label(self.ctx, row)}: not tried in this scan ({paused.reason})"
            )
        except Exception as err:
            if database_failed(err):
                run.fail(err)
                return
            log.exception("scan: checking source %s failed", row.id)
            reason = internal_reason(err)
            run.report.add("internal", f"source {row.id} ({row.name}): {reason}")
            await self._quietly(run, record_internal(self.ctx, row.id, row.last_error, reason))
        else:
            if is_internal(row):
                await self._quietly(run, clear_internal(self.ctx, row.id))
        finally:
            if not keep_lease:
                await self._quietly(run, scan_claims.release(self.ctx, [row.id], run.owner))

    async def _quietly(self, run: _Run, work: Awaitable[None]) -> None:
        """Bookkeeping after the work: a database failure here is logged, not raised (the
        lease runs out by itself)."""
        try:
            async with run.db:
                await work
        except Exception:
            log.exception("scan: bookkeeping failed")

    async def _do(self, run: _Run, plan: Plan, lease: Lease) -> bool:
        """Do the plan; True when the lease was given back on the way (with a renewal or an
        expiry)."""
        row = plan.row
        if plan.error is not None:
            raise plan.error
        name = label(self.ctx, row)
        if plan.renew:
            return await self._renew(run, row, name, lease)
        if plan.expire is not None:
            async with run.db:
                expired = await expire(
                    self.ctx, row.id, plan.expire, run.now, lease_owner=lease.owner
                )
            if expired:
                run.report.add("expired", name)
                run.news.add(row.workspace_id)
            return True
        if plan.health:
            try:
                await self._health_check(run, row, lease)
            except CredentialRejected as err:
                async with run.db:
                    expired = await expire(
                        self.ctx,
                        row.id,
                        err.reason,
                        run.now,
                        revoked=err.revoked,
                        lease_owner=lease.owner,
                    )
                if expired:
                    run.report.add("expired", name)
                    run.news.add(row.workspace_id)
                return True
            except TransientError as err:
                run.report.add("transient", f"{name}: {err.reason}")
            if plan.status is Status.EXPIRING:
                run.report.add("expiring", name)
        if plan.status is not None and plan.status != row.status:
            async with run.db, self.ctx.db.begin() as session:
                await session.execute(
                    update(Source)
                    .where(Source.id == row.id, Source.status == row.status)
                    .values(status=plan.status, status_changed_at=run.now)
                )
            run.news.add(row.workspace_id)
        return False

    async def _renew(self, run: _Run, row: Any, name: str, lease: Lease) -> bool:
        result = await self.renewal.renew(
            row.id, lease=lease, pacer=run.pacer, gate=run.db, writer=run.writer.run
        )
        if result.outcome is Renewed.RENEWED:
            run.report.add("renewed", name)
            return True
        if result.outcome is Renewed.FINAL:
            run.report.add("expired", name)
            run.news.add(row.workspace_id)
        elif result.outcome is Renewed.TRANSIENT:
            run.report.add("transient", f"{name}: {result.reason}")
            run.report.add("expiring", name)
            run.news.add(row.workspace_id)
        return False

    async def _health_check(self, run: _Run, row: Any, lease: Lease) -> None:
        network = self.ctx.catalogue.get(row.network)
        assert network is not None
        credential = lease.credential
        if credential is None:
            raise CredentialRejected(f"{network.title} connection has no stored token")
        client = self.ctx.oauth(network)
        access_token = decrypt(self.ctx, credential).access_token
        try:
            async with run.pacer.call(network.name):
                await client.identity(access_token)
        except TransientError as err:
            async with run.db:
                await self._record(row.id, LastError("transient", err.reason, self.ctx.clock.now()))
            raise
        async with run.db, self.ctx.db.begin() as session:
            await session.execute(
                update(Source).where(Source.id == row.id).values(checked_at=self.ctx.clock.now())
            )
            # A passing check ends an earlier check's transient error, not a renewal streak.
            await session.execute(
                update(Source)
                .where(Source.id == row.id, Source.failures == 0)
                .values(last_error=None)
            )

    async def _record(self, source_id: int, error: LastError) -> None:
        async with self.ctx.db.begin() as session:
            await session.execute(
                update(Source)
                .where(Source.id == source_id)
                .values(last_error=error.to_json(), updated_at=error.at)
            )

    # --- 4. health checks beyond the walk ------------------------------------------------

    async def _health_checks(self, run: _Run) -> None:
        """Fill each network's checks for this scan with the sources checked longest ago."""
        cutoff = run.now - HEALTH_CHECK_INTERVAL
        for network in self.ctx.catalogue:
            if not network.configured:
                continue
            for unchecked in (Source.checked_at.is_(None), Source.checked_at <= cutoff):
                left = run.planner.health_left(network.name)
                if left <= 0 or self._halted(run):
                    break
                async with self.ctx.read() as session:
                    rows = (
                        await session.execute(
                            select(*SCANNED)
                            .where(
                                Source.network == network.name,
                                LIVE,
                                unchecked,
                                scan_claims.claimable(self.ctx, run.round),
                            )
                            .order_by(Source.checked_at, Source.id)
                            .limit(left)
                        )
                    ).all()
                # Renewals and status changes are the walk's (its rows include them all);
                # here only the checks, of sources the walk did not queue one for.
                queued = run.planner.health_queued
                plans = [run.planner.plan(r) for r in rows if r.id not in queued]
                await self._queue(run, [plan for plan in plans if plan.health])

    # --- the end of a scan ----------------------------------------------------------------

    async def _settle(self, run: _Run) -> None:
        """Close the lanes and wait for their work (each source gives its lease back); after
        a cut, sweep what was left claimed, except the leases kept on purpose."""
        await run.lanes.close()
        await run.writer.close()
        if run.cut or run.error is not None:
            await self._quietly(run, scan_claims.release_all(self.ctx, run.owner, keep=run.kept))

    async def _announce(self, run: _Run) -> None:
        """Notices and warnings for the workspaces with news, and only those."""
        run.news |= await news.unannounced_expiries(self.ctx)
        for workspace in await self._workspaces(sorted(run.news)):
            try:
                run.report.notices_queued += await self.notices.post_pending(workspace)
                run.report.warnings_queued += await self.notices.post_warnings(workspace)
            except NoChannel:
                run.report.no_channel.append(workspace.id)
            except Exception as err:
                if database_failed(err):
                    raise
                log.exception("scan: the notices of workspace %s failed", workspace.id)
                run.report.add("internal", f"notices of {workspace.id}: {internal_reason(err)}")

    async def _workspaces(self, ids: Sequence[str]) -> list[Workspace]:
        found: list[Workspace] = []
        for chunk in _chunks(ids, BATCH):
            async with self.ctx.read() as session:
                found += (
                    await session.scalars(
                        select(Workspace)
                        .where(Workspace.id.in_(chunk), Workspace.uninstalled_at.is_(None))
                        .order_by(Workspace.id)
                    )
                ).all()
        return found

    async def _forget_old(self) -> None:
        """Connect attempts are useless once expired (a day of them is kept for support
        questions); events go after EVENT_RETENTION_DAYS; sent outbox rows after a month;
        Slack install states and offers of pages to add once expired; uninstalled workspaces
        after UNINSTALL_RETENTION_DAYS."""
        now = self.ctx.clock.now()
        async with self.ctx.db.begin() as session:
            await session.execute(
                delete(ConnectAttempt).where(ConnectAttempt.expires_at < now - ATTEMPT_RETENTION)
            )
            await self.ctx.events.forget_before(session, now - self.ctx.settings.event_retention)
            await forget_sent(session, now - SENT_RETENTION)
            await forget_offers(session, now)
            naive_now = now.replace(tzinfo=None)  # slack-sdk stores naive UTC
            await session.execute(
                delete(slack_oauth_states).where(slack_oauth_states.c.expire_at < naive_now)
            )
        await self.workspaces.forget_uninstalled(now - self.ctx.settings.uninstall_retention)


def round_name(now: datetime) -> str:
    """The scheduler's round for a scan starting at ``now``: the nearest five-minute mark, so
    replicas whose clocks or start-up differ by less than half of it agree."""
    slot = ROUND.total_seconds()
    seconds = now.timestamp()
    mark = round(seconds / slot) * slot
    return f"round:{int(mark)}"


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
