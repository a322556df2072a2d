"""The scan: renew what is due, find what died, warn ahead, and say each thing once.

How one scan goes, with memory flat in the number of sources:

1. **Walk.** Sources worth a look are read in batches of :data:`BATCH` in id order, only the
   columns the decisions need. SQL leaves out those with nothing to do (active, far from
   their expiry and renewal window, on a known network), so a scan that finds nothing new
   reads little. Each row is then judged in Python by the same rules as everywhere
   (:func:`is_due`, :func:`effective_status`).
2. **Lanes.** What needs doing goes to its network's lane (work without a network call to
   a local one). Each lane has a few workers; a worker claims one source just before
   working on it (:mod:`bot.services.scan_claims`: a lease and the round's mark, with ``FOR
   UPDATE SKIP LOCKED`` on PostgreSQL), so replicas scanning at once split the work source
   by source, and none renews, checks or expires a source another took. Calls run at most
   NETWORK_CONCURRENCY per network, and a network that answers 429 or hangs is paused
   (:mod:`bot.services.pacing`); lanes never wait for each other. The walk goes on
   meanwhile, with at most :data:`MAX_OUTSTANDING` sources queued or in progress (a slow
   network with a long queue can fill that room and slow the walk; a paused one empties its
   queue at once).
4. **Health checks.** Every live token is shown to its network's identity endpoint about once
   a day: at most :data:`HEALTH_CHECKS_PER_NETWORK` per network per scan (per replica), the
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
leases of renewals that may have reached it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery.outbox import forget_sent
from bot.domain import LastError, Status, WorkspaceSettings
from bot.networks import Network
from bot.oauth.client import OAuthClient
from bot.oauth.errors import CredentialRejected, TransientError
from bot.services import news, scan_claims
from bot.services.context import Context
from bot.services.group_commit import GroupCommit
from bot.services.internal import (
    INTERNAL,
    UnknownNetwork,
    clear_internal,
    database_failed,
    internal_reason,
    record_internal,
)
from bot.services.notices import NoChannel, NoticeService
from bot.services.pacing import NetworkPacer, Paused
from bot.services.renewal import Lease, RenewalService, Renewed, expire, is_due
from bot.services.sources import decrypt, renews_by_itself
from bot.services.workspaces import WorkspaceService
from bot.status import effective_status, expired_reason
from bot.store.db import pool_size
from bot.store.models import ConnectAttempt, Source, Workspace, slack_oauth_states

log = logging.getLogger(__name__)

# Every live token is shown to its network's identity endpoint about once a day, at most
# this many per network per scan, so that checks spread over the day's scans.
HEALTH_CHECK_INTERVAL = timedelta(hours=24)
HEALTH_CHECKS_PER_NETWORK = 25
ATTEMPT_RETENTION = timedelta(days=1)
SENT_RETENTION = timedelta(days=30)
BATCH = 500  # sources read per query
MAX_OUTSTANDING = 1000  # claimed sources in progress at once, per scan
NAMES_KEPT = 100  # names a report keeps per list; its counts go on
ROUND = timedelta(minutes=5)  # the scheduler's scans of one round start in the same slot
STOP_CANCEL_WAIT = 5.0  # seconds for cancelled work to give its leases back at shutdown
LOCAL = ""  # the lane of work without a network call (status changes, expiries, errors)
LOCAL_WORKERS = 4
# Workers per network lane, per unit of NETWORK_CONCURRENCY: more workers than calls, so a
# call starts while another worker is in the database before or after its own.
WORKERS_PER_CALL = 2
CLAIM_CHUNK = 8  # sources claimed per transaction, at most
SHUTTING_DOWN = "the bot is shutting down"

# The sources a scan covers: live ones of workspaces that have the app (an uninstalled
# workspace is neither scanned nor told; its data goes after UNINSTALL_RETENTION_DAYS).
INSTALLED = select(Workspace.id).where(Workspace.uninstalled_at.is_(None))
LIVE = and_(
    Source.status.not_in([Status.EXPIRED, Status.REVOKED]), Source.workspace_id.in_(INSTALLED)
)
# What the scan's decisions read of a source (whole ORM objects would cost several times more).
SCANNED = (
    Source.id,
    Source.workspace_id,
    Source.network,
    Source.name,
    Source.status,
    Source.expires_at,
    Source.renewable,
    Source.next_attempt_at,
    Source.last_error,
    Source.checked_at,
    Source.failures,
    Source.failing_since,
)


@dataclass
class ScanReport:
    """What one scan did. The lists name at most :data:`NAMES_KEPT` sources each; ``counts``
    has how many there were."""

    checked: int = 0
    renewed: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    expiring: list[str] = field(default_factory=list)
    transient: list[str] = field(default_factory=list)
    internal: list[str] = field(default_factory=list)  # the bot failed on these; see the log
    no_channel: list[str] = field(default_factory=list)  # workspaces with news and no channel
    notices_queued: int = 0
    warnings_queued: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, name: str) -> None:
        """Count ``name`` under ``kind`` (``renewed``, ``expired``, ...), naming it if there is
        room."""
        self.counts[kind] += 1
        names: list[str] = getattr(self, kind)
        if len(names) < NAMES_KEPT:
            names.append(name)

    def count(self, kind: str) -> int:
        return max(self.counts[kind], len(getattr(self, kind)))

    def summary(self) -> str:
        def named(kind: str, sep: str = ", ") -> str:
            names: list[str] = getattr(self, kind)
            total = self.count(kind)
            if not names:
                return f"{total}"
            more = f"{sep}and {total - len(names)} more" if total > len(names) else ""
            return f"{total} ({sep.join(names)}{more})"

        return "\n".join(
            [
                f"checked: {self.checked} source(s)",
                f"renewed: {named('renewed')}",
                f"expired: {named('expired')}",
                f"expiring soon: {self.count('expiring')}",
                f"notices: {self.notices_queued}",
                f"warnings: {self.warnings_queued}",
                f"transient failures: {named('transient', '; ')}",
                f"internal errors: {named('internal', '; ')}",
            ]
        )


@dataclass
class Plan:
    """What to do with one source in this scan (decided from its row, done under a claim)."""

    row: Any
    renew: bool = False
    expire: str | None = None  # the reason, when it expired by the clock
    health: bool = False
    status: Status | None = None  # what its status is by the clock
    error: Exception | None = None  # deciding failed: the source gets an internal error

    @property
    def needs_claim(self) -> bool:
        changes = self.status is not None and self.status != self.row.status
        return bool(
            self.renew or self.expire or self.health or changes or self.error or _internal(self.row)
        )


class _Lane:
    """One network's work in a scan (or the local lane's): plans waiting, a claimer that claims
    them a few at a time as workers get free, and the workers."""

    def __init__(self, workers: int) -> None:
        self.todo: asyncio.Queue[Plan | None] = asyncio.Queue()  # None: nothing more comes
        self.ready: asyncio.Queue[tuple[Plan, Lease] | None] = asyncio.Queue()
        # Claimed and not yet taken by a worker: at most one per worker, so a replica claims
        # only what it can start soon and leaves the rest to the others.
        self.waiting = asyncio.Semaphore(workers)
        self.workers = workers
        self.tasks: list[asyncio.Task[None]] = []


class _Run:
    """The state of one scan."""

    def __init__(
        self, ctx: Context, round_: str, writers: int, settings: dict[str, WorkspaceSettings]
    ) -> None:
        self.round = round_
        self.settings = settings  # each installed workspace's, read once at the start
        self.owner = str(uuid.uuid4())
        self.now = ctx.clock.now()
        self.report = ScanReport()
        self.pacer = NetworkPacer(ctx.settings.network_concurrency)
        self.health_checks: Counter[str] = Counter()
        self.health_queued: set[int] = set()  # at most the checks' cap per network
        self.news: set[str] = set()  # workspaces with something to announce
        self.lanes: dict[str, _Lane] = {}
        self.room = asyncio.Semaphore(MAX_OUTSTANDING)
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

    # --- the settings a scan reads per workspace (one place each) -----------------------------

    async def _installed_settings(self) -> dict[str, WorkspaceSettings]:
        """The settings in force in each installed workspace (one query for all)."""
        return {w.id: self.workspaces.settings(w) for w in await self.workspaces.installed()}

    def _settings(self, run: _Run, workspace_id: str) -> WorkspaceSettings:
        found = run.settings.get(workspace_id)
        return found if found is not None else self.workspaces.settings(None)

    def _warning_days(self, run: _Run, workspace_id: str) -> tuple[int, ...]:
        """The workspace's warning thresholds, in days."""
        return self._settings(run, workspace_id).warning_days

    def _widest_warning(self, run: _Run) -> timedelta:
        """The widest warning window of any workspace: the walk reads sources inside it."""
        days = [d for settings in run.settings.values() for d in settings.warning_days]
        return timedelta(days=max(days or self.ctx.settings.expiry_warning_days, default=0))

    # --- a scan -----------------------------------------------------------------------------

    async def run(self, round_: str | None = None) -> ScanReport:
        """One scan of every workspace; safe beside another, in this process or a replica.

        ``round_`` names a round shared with other replicas (the scheduler's); without it
        the scan is a round of its own and looks at everything.
        """
        run = _Run(
            self.ctx,
            round_ or f"run:{uuid.uuid4().hex}",
            self._writers(),
            await self._installed_settings(),
        )
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
        for lane in run.lanes.values():
            for task in lane.tasks:
                task.cancel()
            for queue in (lane.todo, lane.ready):
                while not queue.empty():
                    if queue.get_nowait() is not None:
                        run.room.release()

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

    def _worth_a_look(self, run: _Run) -> Any:
        """SQL for the live sources the scan may have something to do with (a superset)."""
        now = run.now
        # A renewable source renews by itself when its network's app is configured.
        renewing = [n for n in self.ctx.catalogue if n.configured]
        not_renewing = [n.name for n in self.ctx.catalogue if not n.configured]
        return or_(
            # inside a renewal window (whether due, with backoff, is decided in Python)
            and_(
                Source.renewable.is_(True),
                or_(
                    false(),
                    *(
                        and_(Source.network == n.name, Source.expires_at <= now + n.renew_before)
                        for n in renewing
                    ),
                ),
            ),
            # expired by the clock, or inside a warning window, without a renewal to wait for
            and_(
                or_(Source.renewable.is_(False), Source.network.in_(not_renewing)),
                Source.expires_at <= now + self._widest_warning(run),
            ),
            Source.status != Status.ACTIVE,
            Source.network.not_in([n.name for n in self.ctx.catalogue]),
        )

    async def _walk(self, run: _Run) -> None:
        after = 0
        worth_a_look = self._worth_a_look(run)
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
            settings = functools.partial(self._settings, run)
            run.news |= await news.unwarned(self.ctx, rows, run.now, settings)
            await self._queue(run, [self._plan(run, row) for row in rows])

    def _plan(self, run: _Run, row: Any) -> Plan:
        """Decide what ``row`` needs; whatever breaks here is that source's internal error."""
        try:
            network = self.ctx.catalogue.get(row.network)
            if network is None:
                raise UnknownNetwork(row.network)
            return self._decide(run, row, network)
        except Exception as err:
            return Plan(row, error=err)

    def _decide(self, run: _Run, row: Any, network: Network) -> Plan:
        now = run.now
        renews = renews_by_itself(row, network)
        if renews and is_due(row, network.renew_before, now):
            return Plan(row, renew=True)
        status = effective_status(
            row.status, row.expires_at, now, self._warning_days(run, row.workspace_id), renews
        )
        if status is Status.EXPIRED and row.expires_at is not None:
            reason = expired_reason(network.title, row.expires_at)
            if row.last_error and row.status == Status.EXPIRING:
                reason += f" ({row.last_error['reason']})"
            return Plan(row, expire=reason)
        # A renewable source whose token ran out waits for its renewal, not for a check
        # that could only fail with the expired token.
        token_ran_out = row.expires_at is not None and row.expires_at <= now
        health = not (renews and token_ran_out) and self._health_due(run, row, network)
        plan = Plan(row, health=health, status=status)
        if status is Status.EXPIRING and not plan.health:
            run.report.add("expiring", _label(self.ctx, row))
        return plan

    def _health_due(self, run: _Run, row: Any, network: Network) -> bool:
        if not network.configured:
            return False
        if row.checked_at is not None and run.now - row.checked_at < HEALTH_CHECK_INTERVAL:
            return False
        if run.health_checks[row.network] >= HEALTH_CHECKS_PER_NETWORK:
            return False
        run.health_checks[row.network] += 1
        return True

    async def _queue(self, run: _Run, plans: Sequence[Plan]) -> None:
        """Put the plans that need work in their lanes (waiting for room first)."""
        for plan in plans:
            if not plan.needs_claim:
                continue
            await run.room.acquire()
            if plan.health:
                run.health_queued.add(plan.row.id)
            networked = plan.renew or plan.health
            self._lane(run, plan.row.network if networked else LOCAL).put_nowait(plan)

    def _lane(self, run: _Run, key: str) -> asyncio.Queue[Plan | None]:
        lane = run.lanes.get(key)
        if lane is None:
            count = LOCAL_WORKERS if key == LOCAL else WORKERS_PER_CALL * run.pacer.concurrency
            lane = run.lanes[key] = _Lane(count)
            name = f"scan-{key or 'local'}"
            lane.tasks.append(asyncio.create_task(self._claimer(run, lane), name=name))
            lane.tasks += [
                asyncio.create_task(self._work(run, lane), name=name) for _ in range(count)
            ]
        return lane.todo

    async def _claimer(self, run: _Run, lane: _Lane) -> None:
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
            leases = await self._claim(run, batch)
            for plan in batch:
                lease = leases.get(plan.row.id)
                if lease is None:  # another scan has it, or the scan is stopping
                    lane.waiting.release()
                    if plan.health:
                        run.health_checks[plan.row.network] -= 1
                    run.room.release()
                else:
                    lane.ready.put_nowait((plan, lease))
        for _ in range(lane.workers):
            lane.ready.put_nowait(None)

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

    async def _work(self, run: _Run, lane: _Lane) -> None:
        """A lane's worker: work on the claimed sources until the lane is closed."""
        while (item := await lane.ready.get()) is not None:
            lane.waiting.release()
            try:
                await self._visit(run, *item)
            finally:
                run.room.release()

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
                "transient", f"{_label(self.ctx, row)}: not tried in this scan ({paused.reason})"
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
            if _internal(row):
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
        label = _label(self.ctx, row)
        if plan.renew:
            return await self._renew(run, row, label, lease)
        if plan.expire is not None:
            async with run.db:
                expired = await expire(
                    self.ctx, row.id, plan.expire, run.now, lease_owner=lease.owner
                )
            if expired:
                run.report.add("expired", label)
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
                    run.report.add("expired", label)
                    run.news.add(row.workspace_id)
                return True
            except TransientError as err:
                run.report.add("transient", f"{label}: {err.reason}")
            if plan.status is Status.EXPIRING:
                run.report.add("expiring", label)
        if plan.status is not None and plan.status != row.status:
            async with run.db, self.ctx.db.begin() as session:
                await session.execute(
                    update(Source)
                    .where(Source.id == row.id, Source.status == row.status)
                    .values(status=plan.status, status_changed_at=run.now)
                )
            run.news.add(row.workspace_id)
        return False

    async def _renew(self, run: _Run, row: Any, label: str, lease: Lease) -> bool:
        result = await self.renewal.renew(
            row.id, lease=lease, pacer=run.pacer, gate=run.db, writer=run.writer.run
        )
        if result.outcome is Renewed.RENEWED:
            run.report.add("renewed", label)
            return True
        if result.outcome is Renewed.FINAL:
            run.report.add("expired", label)
            run.news.add(row.workspace_id)
        elif result.outcome is Renewed.TRANSIENT:
            run.report.add("transient", f"{label}: {result.reason}")
            run.report.add("expiring", label)
            run.news.add(row.workspace_id)
        return False

    async def _health_check(self, run: _Run, row: Any, lease: Lease) -> None:
        network = self.ctx.catalogue.get(row.network)
        assert network is not None
        credential = lease.credential
        if credential is None:
            raise CredentialRejected(f"{network.title} connection has no stored token")
        client = OAuthClient(
            network,
            self.ctx.settings.redirect_uri(network.name),
            transport=self.ctx.network_transport,
        )
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
                left = HEALTH_CHECKS_PER_NETWORK - run.health_checks[network.name]
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
                plans = [self._plan(run, r) for r in rows if r.id not in run.health_queued]
                await self._queue(run, [plan for plan in plans if plan.health])

    # --- the end of a scan ----------------------------------------------------------------

    async def _settle(self, run: _Run) -> None:
        """Close the lanes and wait for their work (each source gives its lease back); after
        a cut, sweep what was left claimed, except the leases kept on purpose."""
        for lane in run.lanes.values():
            lane.todo.put_nowait(None)
        tasks = [task for lane in run.lanes.values() for task in lane.tasks]
        if tasks:
            await asyncio.wait(tasks)
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
        Slack install states once expired; uninstalled workspaces after
        UNINSTALL_RETENTION_DAYS."""
        now = self.ctx.clock.now()
        async with self.ctx.db.begin() as session:
            await session.execute(
                delete(ConnectAttempt).where(ConnectAttempt.expires_at < now - ATTEMPT_RETENTION)
            )
            await self.ctx.events.forget_before(session, now - self.ctx.settings.event_retention)
            await forget_sent(session, now - SENT_RETENTION)
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


def _label(ctx: Context, row: Any) -> str:
    return f"{ctx.catalogue.title(row.network)} · {row.name}"


def _internal(row: Any) -> bool:
    return isinstance(row.last_error, dict) and row.last_error.get("kind") == INTERNAL


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
