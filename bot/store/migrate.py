"""Apply Alembic migrations through the bot's own async engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")
# Any fixed number will do, as long as no other advisory lock in the database uses it.
LOCK_KEY = int.from_bytes(b"srcbot:m", "big") >> 1
VERSION_TABLE = "alembic_version"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a no-op when it is already there.

    On PostgreSQL the migration runs under an advisory lock held until its transaction ends,
    so replicas started at once migrate one after the other: the first does the work, the
    others find the schema up to date. (SQLite serves one process.)
    """

    def run(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        command.upgrade(alembic_config(connection), revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


def head() -> str | None:
    """The newest revision the code knows."""
    head_revision: str | None = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return head_revision


async def current(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None before the first migration).

    Reads Alembic's version table directly: readiness probes call this often, and Alembic's
    migration context logs two lines each time it is set up.
    """

    def read(connection: Connection) -> str | None:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        versions = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))  # noqa: S608
        return versions.scalar()

    async with engine.connect() as connection:
        return await connection.run_sync(read)
