"""Seeding for the scan benchmarks: many LinkedIn sources with refresh tokens, written raw.

Sources are spread over workspaces (``T00000``...); one in ``1 / due_share`` expires in three
days (inside LinkedIn's seven-day renewal window), the rest in 20 to 80 days. All were checked
an hour ago, so no identity check is due: a scan's only network calls are the renewals.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from bot.store import migrate
from bot.store.db import create_engine
from bot.store.models import Base

CHUNK = 5_000


async def fresh_database(url: str) -> None:
    """An empty, migrated database at ``url`` (a SQLite file is removed first)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)  # noqa: ASYNC240 - set-up
    engine = create_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            async with engine.begin() as connection:
                await connection.execute(text("DROP SCHEMA public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


def is_due(n: int, due_share: float) -> bool:
    return due_share > 0 and n % round(1 / due_share) == 0


async def seed(url: str, key: str, sources: int, workspaces: int, due_share: float) -> int:
    """A fresh, migrated database holding ``sources`` sources; returns how many are due."""
    await fresh_database(url)
    engine = create_engine(url)
    fernet = Fernet(key.encode())
    access = fernet.encrypt(b"AQV-access-" + b"x" * 150).decode()
    refresh = fernet.encrypt(b"AQX-refresh-" + b"y" * 100).decode()
    now = datetime.now(UTC)
    tables = Base.metadata.tables
    due = 0
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(tables["workspaces"]),
                [{"id": f"T{w:05d}", "created_at": now} for w in range(workspaces)],
            )
            for begin in range(0, sources, CHUNK):
                rows: list[dict[str, Any]] = []
                for n in range(begin, min(begin + CHUNK, sources)):
                    soon = is_due(n, due_share)
                    due += soon
                    expires = now + (timedelta(days=3) if soon else timedelta(days=20 + n % 60))
                    rows.append(
                        {
                            "workspace_id": f"T{n % workspaces:05d}",
                            "network": "linkedin",
                            "account_id": f"urn:li:organization:{n}",
                            "name": f"Company Page {n}",
                            "kind": "account",
                            "status": "active",
                            "expires_at": expires,
                            "renewable": True,
                            "episode": 0,
                            "failures": 0,
                            "checked_at": now - timedelta(hours=1),
                            "status_changed_at": now,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                ids = (
                    await connection.execute(
                        insert(tables["sources"]).returning(tables["sources"].c.id), rows
                    )
                ).scalars()
                await connection.execute(
                    insert(tables["credentials"]),
                    [
                        {
                            "source_id": source_id,
                            "access_token": access,
                            "refresh_token": refresh,
                            "scopes": "openid profile",
                            "expires_at": row["expires_at"],
                            "created_at": now,
                        }
                        for source_id, row in zip(ids, rows, strict=True)
                    ],
                )
    finally:
        await engine.dispose()
    return due


def bot_env(url: str, key: str, token_url: str, **extra: str) -> dict[str, str]:
    """What `sources-bot` needs for a scan against the local token endpoint."""
    import os

    return {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}},
        "DATABASE_URL": url,
        "TOKEN_ENCRYPTION_KEY": key,
        "LINKEDIN_CLIENT_ID": "bench",
        "LINKEDIN_CLIENT_SECRET": "bench",
        "LINKEDIN_TOKEN_URL": token_url,
        "SLACK_NOTIFY_CHANNEL": "C0BENCH",
        **extra,
    }
