"""Outbox rows: written with the change that causes them, claimed once, delivered at least once.

A row is ``pending`` until it is ``delivered``, ``failed`` (a permanent failure, or transient
ones that outlasted their kind's retry budget; shown to a person) or ``dropped`` (a person
moved on: a new channel was chosen). Rows that share an ``order_key`` are delivered one at a
time, in id order: a notice before the replies in its thread, one source's webhook events in
the order they happened.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.clock import Clock
from bot.store.db import OUTBOX_ENQUEUED
from bot.store.models import OutboxMessage

# Kinds of rows, each handled by one sender.
NOTICE_POST = "slack.notice"  # {"notice_id"}: render the notice and post it
NOTICE_UPDATE = "slack.notice_update"  # {"notice_id"}: render it again, edit in place
THREAD_REPLY = "slack.reply"  # {"notice_id", "text", "blocks"}: reply in the notice's thread
MESSAGE = "slack.message"  # {"channel", "text", "blocks"}: a message or DM (channel = user id)
DIGEST = "slack.digest"  # {"run_id", "channel", "text", "blocks"}
WEBHOOK = "webhook"  # {"endpoint_id", "event_id", "body"}

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
DROPPED = "dropped"

LEASE = timedelta(minutes=2)
Work = Callable[[AsyncSession], Awaitable[None]]
CANDIDATES = 4  # due rows looked at per row claimed, when the dispatcher picks among them


def enqueue(
    session: AsyncSession,
    *,
    workspace_id: str,
    kind: str,
    key: str,
    order_key: str,
    payload: dict[str, Any],
    now: datetime,
    target: str | None = None,
) -> OutboxMessage:
    """Add a row to ``session``'s transaction; the dispatcher is woken once it commits."""
    row = OutboxMessage(
        workspace_id=workspace_id,
        kind=kind,
        key=key,
        order_key=order_key,
        target=target,
        payload=payload,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.info[OUTBOX_ENQUEUED] = True
    return row


def row(
    *,
    workspace_id: str,
    kind: str,
    key: str,
    order_key: str,
    payload: dict[str, Any],
    now: datetime,
    target: str | None = None,
) -> dict[str, Any]:
    """The column values of a new pending row, for :func:`enqueue_many`."""
    return {
        "workspace_id": workspace_id,
        "kind": kind,
        "key": key,
        "order_key": order_key,
        "target": target,
        "payload": payload,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


async def enqueue_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """:func:`enqueue` for many rows (built by :func:`row`), in one statement."""
    await session.execute(insert(OutboxMessage), list(rows))
    session.info[OUTBOX_ENQUEUED] = True


async def requeue_failed(
    session: AsyncSession, workspace_id: str, now: datetime, kinds: Sequence[str] | None = None
) -> int:
    """In ``session``'s transaction: make a workspace's failed rows due again, with a fresh
    retry budget (``created_at`` moves to now: the budget counts from the person's fix)."""
    conditions = [OutboxMessage.workspace_id == workspace_id, OutboxMessage.status == FAILED]
    if kinds is not None:
        conditions.append(OutboxMessage.kind.in_(kinds))
    result = await session.execute(
        update(OutboxMessage)
        .where(*conditions)
        .values(status=PENDING, next_attempt_at=now, attempts=0, created_at=now)
    )
    session.info[OUTBOX_ENQUEUED] = True
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def forget_sent(session: AsyncSession, cutoff: datetime) -> int:
    """Delete rows delivered or dropped before ``cutoff`` (with their webhook attempts)."""
    result = await session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.status.in_([DELIVERED, DROPPED]), OutboxMessage.created_at < cutoff
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def new_key(prefix: str) -> str:
    """A key for rows that are unique by nature (one per request, one per change)."""
    return f"{prefix}:{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Claimed:
    """A row claimed for one delivery try; ``attempt`` counts from 1."""

    id: int
    workspace_id: str
    kind: str
    key: str
    target: str | None
    payload: dict[str, Any]
    attempt: int
    created_at: datetime
    owner: str


@dataclass(frozen=True)
class Candidate:
    """A due row the dispatcher may claim: what its pacing looks at."""

    id: int
    workspace_id: str
    kind: str
    target: str | None


@dataclass(frozen=True)
class Backlog:
    pending: int
    failing: int  # failed for good, or pending after a failed try
    oldest_pending_at: datetime | None = None


@dataclass(frozen=True)
class Problem:
    """A permanent failure a person should see: where, what kind of row, and Slack's reason."""

    target: str | None
    kind: str
    error: str
    since: datetime
    count: int


class Outbox:
    """Claiming and recording of outbox rows, shared by the dispatcher and the CLI."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        read: async_sessionmaker[AsyncSession],
        clock: Clock,
    ) -> None:
        self.db = db
        self.read = read
        self.clock = clock
        self._queued: list[tuple[Work, asyncio.Future[None]]] = []
        self._flushing = False

    async def record(self, work: Work) -> None:
        """Run ``work`` (what a delivery's outcome writes) in a transaction shared with the
        outcomes of other deliveries finishing at the same moment; return once it committed.

        Deliveries run concurrently and each ends with a small write; one commit for many of
        them (group commit) is what keeps the database's commits from setting the pace. A
        batch that fails is tried again one work at a time, so one bad work fails alone.
        """
        done = asyncio.get_running_loop().create_future()
        self._queued.append((work, done))
        if not self._flushing:
            self._flushing = True
            try:
                while self._queued:
                    batch, self._queued = self._queued, []
                    await self._commit(batch)
            finally:
                self._flushing = False
        await done

    async def _commit(self, batch: list[tuple[Work, asyncio.Future[None]]]) -> None:
        try:
            async with self.db.begin() as session:
                for work, _ in batch:
                    await work(session)
        except Exception:
            if len(batch) == 1:
                work, done = batch[0]
                done.set_exception(sys.exc_info()[1] or RuntimeError("record failed"))
                return
            for one in batch:
                await self._commit([one])
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)

    async def claim(
        self,
        limit: int,
        kinds: Sequence[str] | None = None,
        pick: Callable[[Sequence[Candidate]], Sequence[int]] | None = None,
    ) -> list[Claimed]:
        """Lease up to ``limit`` due rows, at most one per order key (the first pending one).

        ``pick`` chooses among a few more due rows than ``limit`` (in id order) which to take:
        what the dispatcher's pacing lets go now.
        """
        now = self.clock.now()
        owner = str(uuid.uuid4())
        earlier = aliased(OutboxMessage)
        due = (
            select(
                OutboxMessage.id,
                OutboxMessage.workspace_id,
                OutboxMessage.kind,
                OutboxMessage.target,
            )
            .where(
                OutboxMessage.status == PENDING,
                OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
                ~exists().where(
                    and_(
                        earlier.order_key == OutboxMessage.order_key,
                        earlier.status == PENDING,
                        earlier.id < OutboxMessage.id,
                    )
                ),
            )
            .order_by(OutboxMessage.id)
            .limit(limit if pick is None else limit * CANDIDATES)
        )
        if kinds is not None:
            due = due.where(OutboxMessage.kind.in_(kinds))
        async with self.db.begin() as session:
            if session.get_bind().dialect.name == "postgresql":
                # Replicas skip each other's rows instead of waiting for them.
                due = due.with_for_update(skip_locked=True, of=OutboxMessage)
            candidates = [Candidate(*found) for found in (await session.execute(due)).all()]
            ids = [c.id for c in candidates] if pick is None else list(pick(candidates))[:limit]
            if not ids:
                return []
            await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_(ids),
                    OutboxMessage.status == PENDING,
                    or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
                )
                .values(
                    lease_owner=owner,
                    lease_until=now + LEASE,
                    attempts=OutboxMessage.attempts + 1,
                )
            )
            rows = (
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids), OutboxMessage.lease_owner == owner)
                    .order_by(OutboxMessage.id)
                )
            ).all()
            return [
                Claimed(
                    id=row.id,
                    workspace_id=row.workspace_id,
                    kind=row.kind,
                    key=row.key,
                    target=row.target,
                    payload=dict(row.payload),
                    attempt=row.attempts,
                    created_at=row.created_at,
                    owner=owner,
                )
                for row in rows
            ]

    async def hold(self, rows: ColumnElement[bool], until: datetime) -> int:
        """Every pending row matching ``rows`` waits until ``until`` at least (a rate limit:
        the other side asked for a pause that applies to all of them)."""
        async with self.db.begin() as session:
            result = await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.status == PENDING,
                    OutboxMessage.next_attempt_at < until,
                    rows,
                )
                .values(next_attempt_at=until)
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def delivered(
        self,
        session: AsyncSession,
        row: Claimed,
        result: dict[str, Any] | None = None,
        target: str | None = None,
    ) -> bool:
        """Record success in ``session`` (with the sender's own effects); False if the lease was
        lost meanwhile, in which case the caller's transaction should be rolled back."""
        values: dict[str, Any] = {
            "status": DELIVERED,
            "delivered_at": self.clock.now(),
            "lease_owner": None,
            "lease_until": None,
            "last_error": None,
            "result": result,
        }
        if target is not None:
            values["target"] = target
        done = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.lease_owner == row.owner)
            .values(**values)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]

    async def retry_later(
        self,
        row: Claimed,
        error: str,
        at: datetime,
        *,
        count_attempt: bool = True,
        target: str | None = None,
    ) -> None:
        """Leave the row pending until ``at``."""
        values: dict[str, Any] = {
            "next_attempt_at": at,
            "lease_owner": None,
            "lease_until": None,
            "last_error": error[:500],
        }
        if not count_attempt:
            values["attempts"] = OutboxMessage.attempts - 1
        if target is not None:
            values["target"] = target
        statement = (
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.lease_owner == row.owner)
            .values(**values)
        )

        async def write(session: AsyncSession) -> None:
            await session.execute(statement)

        await self.record(write)

    async def fail(
        self,
        row: Claimed,
        error: str,
        session: AsyncSession | None = None,
        target: str | None = None,
    ) -> None:
        """Stop trying: the row stays as ``failed`` for a person to see and retry."""
        values: dict[str, Any] = {
            "status": FAILED,
            "lease_owner": None,
            "lease_until": None,
            "last_error": error[:500],
        }
        if target is not None:
            values["target"] = target
        statement = (
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.lease_owner == row.owner)
            .values(**values)
        )
        if session is not None:
            await session.execute(statement)
            return

        async def write(own: AsyncSession) -> None:
            await own.execute(statement)

        await self.record(write)

    async def release(self, rows: Sequence[Claimed]) -> None:
        """Give back leases not used (shutdown): the rows are due again at once."""
        if not rows:
            return
        async with self.db.begin() as session:
            for row in rows:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id, OutboxMessage.lease_owner == row.owner)
                    .values(
                        lease_owner=None,
                        lease_until=None,
                        attempts=OutboxMessage.attempts - 1,
                    )
                )

    async def backlog(self) -> Backlog:
        async with self.read() as session:
            pending = await session.scalar(
                select(func.count()).where(OutboxMessage.status == PENDING)
            )
            failing = await session.scalar(
                select(func.count()).where(
                    or_(
                        OutboxMessage.status == FAILED,
                        and_(
                            OutboxMessage.status == PENDING, OutboxMessage.last_error.is_not(None)
                        ),
                    )
                )
            )
            oldest = await session.scalar(
                select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == PENDING)
            )
        return Backlog(int(pending or 0), int(failing or 0), oldest)

    async def problems(self, workspace_id: str) -> list[Problem]:
        """Permanent failures of a workspace's Slack sends, one per target and error."""
        async with self.read() as session:
            rows = (
                await session.execute(
                    select(
                        OutboxMessage.target,
                        OutboxMessage.kind,
                        OutboxMessage.last_error,
                        func.min(OutboxMessage.created_at),
                        func.count(),
                    )
                    .where(
                        OutboxMessage.workspace_id == workspace_id,
                        OutboxMessage.status == FAILED,
                        OutboxMessage.kind != WEBHOOK,
                    )
                    .group_by(OutboxMessage.target, OutboxMessage.kind, OutboxMessage.last_error)
                    .order_by(func.min(OutboxMessage.created_at))
                )
            ).all()
        return [
            Problem(target=target, kind=kind, error=error or "", since=since, count=count)
            for target, kind, error, since, count in rows
        ]

    async def retry_failed(self, workspace_id: str, kinds: Sequence[str] | None = None) -> int:
        """A person fixed something: try the workspace's failed rows again, now."""
        async with self.db.begin() as session:
            return await requeue_failed(session, workspace_id, self.clock.now(), kinds)
