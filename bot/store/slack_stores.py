"""slack-sdk's installation and OAuth state stores, on the tables our migrations made.

They are slack-sdk's own classes with three changes, all in column types: tokens pass through
the bot's :class:`~bot.crypto.TokenCipher` (the raw database holds only Fernet ciphertext),
OAuth states are stored as SHA-256 digests (a stolen row cannot finish an install), and the
naive UTC datetimes slack-sdk writes are read back as UTC (not as the host's local time).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any, cast

from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy import DateTime, String, Table, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.crypto import TokenCipher
from bot.logs import hide_oauth_values
from bot.store.db import WRITE_OPTION
from bot.store.models import SLACK_TOKEN_COLUMNS

log = logging.getLogger(__name__)


class EncryptedText(TypeDecorator[str]):
    """Text stored as Fernet ciphertext; Python code sees the clear value."""

    impl = Text
    cache_ok = True

    def __init__(self, cipher: TokenCipher) -> None:
        super().__init__()
        self.cipher = cipher

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.cipher.encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.cipher.decrypt(value)


class Digest(TypeDecorator[str]):
    """A secret stored and compared as its SHA-256 digest; it can be checked, not read back."""

    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else hashlib.sha256(value.encode()).hexdigest()


class NaiveUTC(TypeDecorator[datetime]):
    """slack-sdk writes naive UTC datetimes; read them back as UTC, whatever the host's zone."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class _ReadWriteEngine:
    """What slack-sdk's stores use of an engine: ``begin()`` to write, ``connect()`` to read.

    Their writes take SQLite's write lock up front, as the bot's own writers do; their reads
    (one per Slack request, to authorize it) never take it.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._write = engine.execution_options(**{WRITE_OPTION: True})
        self._read = engine

    def begin(self) -> Any:
        return self._write.begin()

    def connect(self) -> AsyncConnection:
        return self._read.connect()


def _typed(table: Table, cipher: TokenCipher | None = None) -> None:
    for column in table.columns:
        if cipher is not None and column.name in SLACK_TOKEN_COLUMNS:
            column.type = EncryptedText(cipher)
        elif isinstance(column.type, DateTime):
            column.type = NaiveUTC()


class InstallationStore(AsyncSQLAlchemyInstallationStore):
    """slack-sdk's installation store with every token encrypted at rest."""

    def __init__(self, client_id: str, engine: AsyncEngine, cipher: TokenCipher) -> None:
        super().__init__(
            client_id=client_id, engine=cast(AsyncEngine, _ReadWriteEngine(engine)), logger=log
        )
        _typed(self.installations, cipher)
        _typed(self.bots, cipher)


class OAuthStateStore(AsyncSQLAlchemyOAuthStateStore):
    """slack-sdk's OAuth state store, keeping only digests of the states it issues."""

    def __init__(self, engine: AsyncEngine, expiration_seconds: int) -> None:
        super().__init__(
            expiration_seconds=expiration_seconds,
            engine=cast(AsyncEngine, _ReadWriteEngine(engine)),
            logger=hide_oauth_values(log),
        )
        self.oauth_states.c.state.type = Digest()
        _typed(self.oauth_states)
