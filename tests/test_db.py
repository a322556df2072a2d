"""The store's sessions: on SQLite, reads run beside a writer instead of queueing behind it."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.store import migrate
from bot.store.db import create_engine, session_factories
from bot.store.models import Base


async def test_sqlite_reads_do_not_wait_for_the_write_lock(tmp_path: object) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/lock.db")
    try:
        await migrate.upgrade(engine)
        writer, reader = session_factories(engine)
        async with writer.begin() as holding:
            # This transaction holds SQLite's write lock until the block ends.
            await holding.execute(
                text("INSERT INTO workspaces (id, created_at) VALUES ('T1', '2026-01-01')")
            )
            async with reader() as session:
                count = await asyncio.wait_for(
                    session.scalar(text("SELECT count(*) FROM workspaces")), timeout=2
                )
            assert count == 0  # the reader sees the last committed snapshot
    finally:
        await engine.dispose()


async def test_migrations_build_exactly_the_models(database_url: str) -> None:
    """Alembic's autogenerate finds nothing to add: the migrations and models agree."""
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)

        def diff(connection: Connection) -> list[object]:
            return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

        async with engine.connect() as connection:
            assert await connection.run_sync(diff) == []
    finally:
        await engine.dispose()
