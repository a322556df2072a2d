"""Every column that holds a secret encrypted with TOKEN_ENCRYPTION_KEY, listed once.

``sources-bot keys rotate`` and ``keys check``, and the start-up check for secrets no key
decrypts, walk this list. A table that stores a new kind of secret (webhook secrets, Slack
installation tokens) registers its columns here and is rotated and checked with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table

from bot.store.models import Base


@dataclass(frozen=True)
class EncryptedColumns:
    """Columns of one table that hold Fernet ciphertext (or NULL)."""

    table: str
    key: str  # the primary key, by which rows are walked in batches
    columns: tuple[str, ...]
    source: str | None = None  # the column naming the source a secret belongs to, if any

    @property
    def sql_table(self) -> Table:
        return Base.metadata.tables[self.table]


ENCRYPTED: tuple[EncryptedColumns, ...] = (
    EncryptedColumns("credentials", "id", ("access_token", "refresh_token"), source="source_id"),
    EncryptedColumns("connect_attempts", "id", ("code_verifier",), source="source_id"),
    EncryptedColumns("webhook_endpoints", "id", ("secret",)),
    EncryptedColumns(
        "slack_installations",
        "id",
        ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token"),
    ),
    EncryptedColumns("slack_bots", "id", ("bot_token", "bot_refresh_token")),
)
