"""When the bot fails on one source: say so on that source, log why, and keep going.

A scan checks every source in turn; a credential no key decrypts, a network gone from the
catalogue, a malformed row or a bug must stop that source's check only. Such a failure is
recorded as the source's ``last_error`` of kind ``internal`` (a sentence a person can act on;
the traceback goes to the log) and is counted in the scan's summary.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bot.crypto import UndecryptableToken
from bot.domain import LastError
from bot.services.context import Context
from bot.store.models import Source

INTERNAL = "internal"
# The database itself failing (gone, locked, connection lost) is not one source's problem:
# it stops the scan, which says so, and the next scan starts over.
NOT_ISOLATED = (OperationalError, InterfaceError)


def database_failed(err: BaseException) -> bool:
    """Whether ``err`` is the database failing rather than one source: :data:`NOT_ISOLATED`,
    or a connection lost in the middle of a statement (asyncpg reports a backend terminated by
    the server as a plain DBAPIError whose connection is invalidated)."""
    if isinstance(err, NOT_ISOLATED):
        return True
    return isinstance(err, DBAPIError) and bool(err.connection_invalidated)


class UnknownNetwork(Exception):
    """The source's network is no longer in the catalogue."""

    def __init__(self, network: str) -> None:
        super().__init__(network)
        self.network = network


def internal_reason(err: BaseException) -> str:
    """The sentence stored on the source: what is wrong, in words, never a secret."""
    if isinstance(err, UndecryptableToken):
        return (
            "its stored token cannot be decrypted with TOKEN_ENCRYPTION_KEY "
            "(was a key removed? `sources-bot keys check` tells)"
        )
    if isinstance(err, UnknownNetwork):
        return (
            f"its network {err.network!r} is no longer in the catalogue, "
            "so it cannot be renewed or checked"
        )
    return f"the bot failed while checking it ({type(err).__name__}); the log has the details"


async def record_internal(
    ctx: Context, source_id: int, stored: dict[str, Any] | None, reason: str
) -> None:
    """Store ``reason`` as the source's last error, unless ``stored`` already says it."""
    if (
        isinstance(stored, dict)
        and stored.get("kind") == INTERNAL
        and stored.get("reason") == reason
    ):
        return  # keep the time it was first seen, and write nothing
    now = ctx.clock.now()
    async with ctx.db.begin() as session:
        await session.execute(
            update(Source)
            .where(Source.id == source_id)
            .values(last_error=LastError(INTERNAL, reason, now).to_json(), updated_at=now)
        )


async def clear_internal(ctx: Context, source_id: int) -> None:
    """A check that passed ends an internal error (and no other kind of error)."""
    async with ctx.db.begin() as session:
        source = await session.get(Source, source_id)
        if source is not None and (source.last_error or {}).get("kind") == INTERNAL:
            source.last_error = None
