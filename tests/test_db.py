"""The store's sessions: on SQLite, reads run beside a writer instead of queueing behind it."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from bot.store import migrate
from bot.store.db import create_engine, session_factories


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
