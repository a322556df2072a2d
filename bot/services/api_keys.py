"""API keys: created on the command line, shown once, stored as a SHA-256 hash.

A key belongs to one workspace and sees only that workspace. Its last use is recorded at
most once a minute, so reading through the API does not write on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from bot.services.admin import AdminError, require_workspace
from bot.services.context import Context
from bot.services.events import api_key_actor
from bot.store.models import ApiKey

KEY_PREFIX = "sbk_"
KEY_BYTES = 32  # of randomness, url-safe base64 after the prefix
SHOWN_PREFIX = 12  # characters kept in clear to tell keys apart: "sbk_" and 8 more
NAME_LIMIT = 64
LAST_USE_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class ApiKeyInfo:
    id: int
    workspace_id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyInfo:
        return cls(
            id=key.id,
            workspace_id=key.workspace_id,
            name=key.name,
            prefix=key.prefix,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "workspace": self.workspace_id,
            "name": self.name,
            "prefix": self.prefix,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


@dataclass(frozen=True)
class NewApiKey:
    info: ApiKeyInfo
    key: str = field(repr=False)  # in clear: shown once, never stored


@dataclass(frozen=True)
class Caller:
    """Who is calling the API: an unrevoked key, and the workspace it may see."""

    key_id: int
    workspace_id: str
    name: str
    last_used_at: datetime | None

    @property
    def actor(self) -> str:
        return api_key_actor(self.name)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_key(value: str) -> bool:
    """The shape of a key, checked before any database look-up."""
    body = value[len(KEY_PREFIX) :]
    return (
        value.startswith(KEY_PREFIX)
        and 43 <= len(body) <= 128
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in body)
    )


class ApiKeyService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def create(self, workspace_id: str, name: str) -> NewApiKey:
        """A new key for ``workspace_id``; the key in clear is in the result and nowhere else."""
        name = name.strip()
        if not name or len(name) > NAME_LIMIT or not name.isprintable():
            raise AdminError(f"the name must be 1 to {NAME_LIMIT} printable characters")
        key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
        now = self.ctx.clock.now()
        async with self.ctx.db.begin() as session:
            await require_workspace(session, workspace_id)
            taken = await session.scalar(
                select(ApiKey.id).where(
                    ApiKey.workspace_id == workspace_id,
                    ApiKey.name == name,
                    ApiKey.revoked_at.is_(None),
                )
            )
            if taken is not None:
                raise AdminError(
                    f"workspace {workspace_id} already has a key named {name!r} (id {taken}); "
                    "names tell keys apart in the event log, so choose another"
                )
            row = ApiKey(
                workspace_id=workspace_id,
                name=name,
                prefix=key[:SHOWN_PREFIX],
                key_hash=hash_key(key),
                created_at=now,
            )
            session.add(row)
            await session.flush()
            info = ApiKeyInfo.of(row)
        return NewApiKey(info=info, key=key)

    async def all(self, workspace_id: str | None = None) -> list[ApiKeyInfo]:
        query = select(ApiKey).order_by(ApiKey.id)
        if workspace_id is not None:
            query = query.where(ApiKey.workspace_id == workspace_id)
        async with self.ctx.read() as session:
            return [ApiKeyInfo.of(key) for key in (await session.scalars(query)).all()]

    async def revoke(self, key_id: int) -> ApiKeyInfo:
        """Revoke a key at once; revoking a revoked key changes nothing."""
        async with self.ctx.db.begin() as session:
            key = await session.get(ApiKey, key_id)
            if key is None:
                raise AdminError(f"there is no API key with id {key_id}")
            if key.revoked_at is None:
                key.revoked_at = self.ctx.clock.now()
            return ApiKeyInfo.of(key)

    async def authenticate(self, presented: str) -> Caller | None:
        """The caller a presented key stands for, or None (unknown, malformed or revoked).

        Reads only; :meth:`record_use` writes the last use once the request succeeded.
        """
        if not looks_like_key(presented):
            return None
        async with self.ctx.read() as session:
            key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(presented)))
        if key is None or key.revoked_at is not None:
            return None
        return Caller(
            key_id=key.id,
            workspace_id=key.workspace_id,
            name=key.name,
            last_used_at=key.last_used_at,
        )

    async def record_use(self, caller: Caller) -> None:
        """Record the key's last use, unless it was recorded less than a minute ago."""
        now = self.ctx.clock.now()
        if caller.last_used_at is not None and now - caller.last_used_at < LAST_USE_EVERY:
            return
        async with self.ctx.db.begin() as session:
            # Concurrent requests of one key: only the first of the minute writes.
            await session.execute(
                update(ApiKey)
                .where(
                    ApiKey.id == caller.key_id,
                    or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - LAST_USE_EVERY),
                )
                .values(last_used_at=now)
            )
