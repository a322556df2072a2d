"""The database schema. Uniqueness constraints here are what make posting exactly-once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes stored as UTC; SQLite would otherwise hand back naive ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # Slack team id
    name: Mapped[str | None] = mapped_column(String(255))
    notify_channel: Mapped[str | None] = mapped_column(String(32))
    digest_hour: Mapped[int | None] = mapped_column(Integer)
    digest_timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class Source(Base):
    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("workspace_id", "network", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    network: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    # "account", or the network's page kind: "organization", "page", "channel".
    kind: Mapped[str] = mapped_column(String(16), default="account")
    status: Mapped[str] = mapped_column(String(16), default="active")
    expires_at: Mapped[datetime | None]
    renewable: Mapped[bool] = mapped_column(Boolean, default=False)
    # Counts expiry episodes: each move into expired/revoked starts a new one, so a notice
    # is keyed by (source, episode) and never posted twice for the same episode.
    episode: Mapped[int] = mapped_column(Integer, default=0)
    status_changed_at: Mapped[datetime]
    last_error: Mapped[dict[str, Any] | None]
    checked_at: Mapped[datetime | None]  # last identity check against the network
    # Renewal bookkeeping: a lease so one scan renews at a time, and the failure streak.
    lease_owner: Mapped[str | None] = mapped_column(String(36))
    lease_until: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    restored_at: Mapped[datetime | None]
    restored_by: Mapped[str | None] = mapped_column(String(32))
    connected_by: Mapped[str | None] = mapped_column(String(32))  # Slack user
    connected_as: Mapped[str | None] = mapped_column(String(255))  # whose login, on the network
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    credentials: Mapped[list[Credential]] = relationship(
        back_populates="source", order_by="Credential.id", lazy="raise"
    )


class Credential(Base):
    """One set of tokens; the newest row of a source is the one in use, older ones are history."""

    __tablename__ = "credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    access_token: Mapped[str] = mapped_column(Text)  # Fernet ciphertext
    refresh_token: Mapped[str | None] = mapped_column(Text)  # Fernet ciphertext
    scopes: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    source: Mapped[Source] = relationship(back_populates="credentials", lazy="raise")


class ConnectAttempt(Base):
    """One OAuth flow in progress. Secrets are stored hashed or encrypted, never in clear."""

    __tablename__ = "connect_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    link_hash: Mapped[str] = mapped_column(String(64), unique=True)
    state_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # set when opened
    browser_hash: Mapped[str | None] = mapped_column(String(64))
    code_verifier: Mapped[str | None] = mapped_column(Text)  # Fernet ciphertext
    network: Mapped[str] = mapped_column(String(32))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    user_id: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    consumed_at: Mapped[datetime | None]


class Notice(Base):
    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="expiry")
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
    posted_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]

    items: Mapped[list[NoticeItem]] = relationship(
        back_populates="notice", order_by="NoticeItem.id", lazy="raise"
    )


class NoticeItem(Base):
    """A source listed in a notice. The unique (source, key) is the exactly-once guarantee.

    ``key`` names what was announced: ``expiry:{episode}`` or ``warn{days}:{expiry timestamp}``.
    """

    __tablename__ = "notice_items"
    __table_args__ = (UniqueConstraint("source_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    restored_at: Mapped[datetime | None]
    restored_by: Mapped[str | None] = mapped_column(String(32))

    notice: Mapped[Notice] = relationship(back_populates="items", lazy="raise")


class DigestRun(Base):
    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("workspace_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    day: Mapped[date] = mapped_column(Date)
    claimed_at: Mapped[datetime]
    posted_at: Mapped[datetime | None]
    channel: Mapped[str | None] = mapped_column(String(32))
    ts: Mapped[str | None] = mapped_column(String(32))


Index("ix_connect_attempts_expires_at", ConnectAttempt.expires_at)
