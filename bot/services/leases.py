"""Which clock times leases: the database's in production, the test's clock in tests.

A lease is a time written in a row (a source being renewed or scanned): until it runs out,
nobody else touches the row; once it has, anybody may take the row over. Replicas must agree
on when that is, and their own clocks may be skewed: one running three minutes ahead would
take over leases that are still live and renew a source twice. So in production every lease
is written and compared in SQL with PostgreSQL's ``now()``, and the replicas' clocks never
enter into it (:class:`DatabaseLeases`).

Tests move a FrozenClock past a lease to see what happens when it runs out, so a bot built
with a given clock times leases with that clock, as bound values (:class:`ClockLeases`).
SQLite serves one process, whose own clock is the database's, so it gets the same.

The choice is made once, where the bot is built (:func:`bot.app.create_app`: the database's
clock unless a clock is given).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, Interval, func, literal, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.clock import Clock, SystemClock
from bot.store.models import UTCDateTime


class LeaseClock(Protocol):
    def now(self) -> ColumnElement[datetime]:
        """The current time, as SQL."""
        ...

    def after(self, delta: timedelta) -> ColumnElement[datetime]:
        """The current time plus ``delta``, as SQL: when a lease taken now runs out."""
        ...

    async def read(self, session: AsyncSession) -> datetime:
        """The current time, as a value."""
        ...


class DatabaseLeases:
    """PostgreSQL's ``now()`` (the start of the transaction, which a claim keeps short)."""

    def now(self) -> ColumnElement[datetime]:
        return func.now(type_=UTCDateTime())

    def after(self, delta: timedelta) -> ColumnElement[datetime]:
        return type_coerce(func.now() + literal(delta, Interval()), UTCDateTime())

    async def read(self, session: AsyncSession) -> datetime:
        value: datetime | None = await session.scalar(select(self.now()))
        assert value is not None
        return value


class ClockLeases:
    """A clock of the process's (the test's FrozenClock, or SQLite's one process)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def now(self) -> ColumnElement[datetime]:
        return literal(self.clock.now(), UTCDateTime())

    def after(self, delta: timedelta) -> ColumnElement[datetime]:
        return literal(self.clock.now() + delta, UTCDateTime())

    async def read(self, session: AsyncSession) -> datetime:
        return self.clock.now()


def database_leases(engine: AsyncEngine) -> LeaseClock:
    """Production: the database's clock where replicas share one (PostgreSQL)."""
    if engine.dialect.name == "postgresql":
        return DatabaseLeases()
    return ClockLeases(SystemClock())
