"""Migrations: replicas started at once on PostgreSQL migrate one at a time."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from bot.store import migrate
from bot.store.db import create_engine

REPLICAS = 4


async def test_replicas_started_at_once_all_migrate_cleanly(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serves one process; the lock is PostgreSQL's")
    engines = [create_engine(database_url) for _ in range(REPLICAS)]
    try:
        # Without the lock they fail, or wait on each other's tables for good.
        results = await asyncio.wait_for(
            asyncio.gather(
                *(migrate.upgrade(engine) for engine in engines), return_exceptions=True
            ),
            timeout=60,
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
        async with engines[0].connect() as connection:
            versions = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).all()
            tables = await connection.scalar(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            )
        assert len(versions) == 1
        assert tables and tables > 5
    finally:
        for engine in engines:
            await engine.dispose()
