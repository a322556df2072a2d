"""Engine and sessions: one async engine per process, built from DATABASE_URL."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from bot.config import ConfigError

WRITE_OPTION = "sources_bot_write"
# Session.info keys: set by the outbox when it queues a row; the hook to call after commit.
OUTBOX_ENQUEUED = "outbox_enqueued"
AFTER_OUTBOX_COMMIT = "after_outbox_commit"
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_url(url: str) -> str:
    """Map sync-style URLs (``sqlite:///x.db``, ``postgresql://...``) to the async drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    try:
        parsed = make_url(url)
    except Exception as err:
        raise ConfigError("DATABASE_URL is not a valid database URL") from err
    backend = parsed.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ConfigError("DATABASE_URL must point to SQLite or PostgreSQL")
    if parsed.drivername == backend:
        parsed = parsed.set(drivername=_ASYNC_DRIVERS[backend])
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, pool_size: int | None = None) -> AsyncEngine:
    """The process's engine; ``pool_size`` (DATABASE_POOL_SIZE) caps its connections.

    Without it the driver's default pool applies (SQLAlchemy's: 5, plus 10 on demand).
    """
    url = async_url(url)
    pool: dict[str, Any] = {}
    if pool_size is not None and not _in_memory(url):
        # A hard cap: what the operator sized the database's connection limit for.
        pool = {"pool_size": pool_size, "max_overflow": 0}
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **pool)
        _serialize_sqlite_writes(engine)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **pool)


def pool_size(engine: AsyncEngine) -> int:
    """How many connections the engine keeps open for steady work (1 for in-memory SQLite)."""
    pool = engine.pool
    return pool.size() if isinstance(pool, QueuePool) else 1


def describe_error(err: BaseException, url: str) -> str:
    """A database failure in one line: where (password hidden) and the driver's own words,
    e.g. ``database "x" does not exist``."""
    cause: BaseException = err
    if isinstance(err, DBAPIError) and err.orig is not None:
        cause = err.orig
    words = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    words = re.sub(r"^\[Errno -?\d+\]\s*", "", words) or type(cause).__name__
    try:
        where = make_url(async_url(url)).set(drivername=make_url(url).get_backend_name())
        shown = where.render_as_string(hide_password=True)
    except ConfigError:
        shown = "DATABASE_URL"
    return f"{shown}: {words}"


def _in_memory(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def _serialize_sqlite_writes(engine: AsyncEngine) -> None:
    """Writes start with BEGIN IMMEDIATE; reads with a plain (deferred) BEGIN.

    pysqlite's deferred transactions fail with "database is locked" when two connections
    both try to upgrade a read lock, so a transaction that writes takes the write lock up
    front and waits its turn (up to the 30 s busy timeout). Reads never take it: in WAL mode
    they run beside the writer on a snapshot. Which kind a transaction is comes from the
    session factory it was opened with (:func:`session_factories`).
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class WriteSession(Session):
    """A session that may write; after a commit that queued outbox rows it calls the hook
    given to :func:`session_factories`, so the dispatcher looks at once."""


@event.listens_for(WriteSession, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(OUTBOX_ENQUEUED, False):
        hook = session.info.get(AFTER_OUTBOX_COMMIT)
        if hook is not None:
            hook()


@event.listens_for(WriteSession, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(OUTBOX_ENQUEUED, None)


def session_factories(
    engine: AsyncEngine, after_outbox_commit: Callable[[], None] | None = None
) -> tuple[async_sessionmaker[AsyncSession], async_sessionmaker[AsyncSession]]:
    """(writer, reader): sessions that may write, and sessions that only read.

    On SQLite only the writer's transactions take the write lock; on PostgreSQL the two are
    the same thing.
    """
    writer = async_sessionmaker(
        engine.execution_options(**{WRITE_OPTION: True}),
        expire_on_commit=False,
        sync_session_class=WriteSession,
        info={AFTER_OUTBOX_COMMIT: after_outbox_commit},
    )
    reader = async_sessionmaker(engine, expire_on_commit=False)
    return writer, reader
