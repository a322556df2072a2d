"""The database schema. Uniqueness constraints here are what make posting exactly-once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
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
    false,
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
    type_annotation_map = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
        list[int]: JSON,
    }


class Workspace(Base):
    """One Slack team the bot serves, and its settings (None: the environment's default).

    In install mode a team of an Enterprise Grid org is found with ``enterprise_id``; when
    the org installed the app (``org_install``) the org's installation serves every team.
    """

    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # Slack team id
    name: Mapped[str | None] = mapped_column(String(255))
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    org_install: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    installed_by: Mapped[str | None] = mapped_column(String(32))
    installed_at: Mapped[datetime | None]
    # Set by app_uninstalled / tokens_revoked: nothing is posted or scanned; the data is
    # deleted UNINSTALL_RETENTION_DAYS later unless the app is installed again.
    uninstalled_at: Mapped[datetime | None]
    notify_channel: Mapped[str | None] = mapped_column(String(32))
    network_channels: Mapped[dict[str, Any] | None]  # network name -> channel id
    digest_hour: Mapped[int | None] = mapped_column(Integer)
    digest_timezone: Mapped[str | None] = mapped_column(String(64))
    digest_days: Mapped[str | None] = mapped_column(String(16))  # "daily" or "weekdays"
    warning_days: Mapped[list[int] | None] = mapped_column(JSON)
    renewal_failure_budget_hours: Mapped[int | None] = mapped_column(Integer)
    # Who may act: "everyone", "admins" (admins and owners) or "group" (those and a user group).
    connect_role: Mapped[str | None] = mapped_column(String(16))
    connect_group: Mapped[str | None] = mapped_column(String(32))
    settings_role: Mapped[str | None] = mapped_column(String(16))
    settings_group: Mapped[str | None] = mapped_column(String(32))
    # The team workflow: quiet on blips, claims, snoozes and escalation.
    renewal_warn_after_minutes: Mapped[int | None] = mapped_column(Integer)
    claim_remind_hours: Mapped[int | None] = mapped_column(Integer)
    max_snooze_days: Mapped[int | None] = mapped_column(Integer)
    escalate_after_hours: Mapped[int | None] = mapped_column(Integer)
    escalation_target: Mapped[str | None] = mapped_column(String(16))  # "admins" or "group"
    escalation_group: Mapped[str | None] = mapped_column(String(32))
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
    # When the refresh token itself dies, where the network says (LinkedIn, TikTok,
    # Pinterest): renewal cannot go past it, only a person can.
    refresh_expires_at: Mapped[datetime | None]
    # Counts expiry episodes: each move into expired/revoked starts a new one, so a notice
    # is keyed by (source, episode) and never posted twice for the same episode.
    episode: Mapped[int] = mapped_column(Integer, default=0)
    status_changed_at: Mapped[datetime]
    last_error: Mapped[dict[str, Any] | None]
    checked_at: Mapped[datetime | None]  # last identity check against the network
    # Renewal bookkeeping: a lease so one scan renews at a time, and the failure streak.
    lease_owner: Mapped[str | None] = mapped_column(String(36))
    lease_until: Mapped[datetime | None]
    # The scan round that last claimed the source: replicas scanning in one round skip what
    # another already took (see bot/services/scan.py).
    scan_round: Mapped[str | None] = mapped_column(String(40))
    failing_since: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    restored_at: Mapped[datetime | None]
    restored_by: Mapped[str | None] = mapped_column(String(80))  # a Slack user or an actor
    connected_by: Mapped[str | None] = mapped_column(String(80))  # a Slack user or an actor
    connected_as: Mapped[str | None] = mapped_column(String(255))  # whose login, on the network
    # The API's last read of its token: which key (by name) and when.
    last_read_at: Mapped[datetime | None]
    last_read_by: Mapped[str | None] = mapped_column(String(80))
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
    refresh_expires_at: Mapped[datetime | None]
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
    # The Slack user the attempt is for; None for a link made through the API for a person
    # outside Slack (``actor`` then names the API key).
    user_id: Mapped[str | None] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(80))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id", ondelete="SET NULL"))
    # "Reconnect all": restore every source of the network that needs a person and that the
    # login reaches, rather than one source.
    restore_all: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A new connect that also asks the network's page scopes, to offer the pages it manages.
    with_pages: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    consumed_at: Mapped[datetime | None]


class PageOffer(Base):
    """Pages a new login manages that are not sources yet, offered to the person who signed
    in until they choose (once) or the offer expires. The tokens are Fernet ciphertext."""

    __tablename__ = "page_offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(32))
    network: Mapped[str] = mapped_column(String(32))
    login_name: Mapped[str] = mapped_column(String(255))
    pages: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{"account_id", "name"}]
    tokens: Mapped[str] = mapped_column(Text)  # the login's and the pages' tokens, as JSON
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


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
    restored_by: Mapped[str | None] = mapped_column(String(80))
    # Restored without a person: its renewal works again.
    recovered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    escalated_at: Mapped[datetime | None]  # an expiry item's one escalation (once per episode)

    notice: Mapped[Notice] = relationship(back_populates="items", lazy="raise")


class Claim(Base):
    """Someone took a source's trouble on ("I'll take it") from one of its open notice items.

    The newest claim of a source on an item still open is the one shown; a take-over is a
    newer row. ``remind_at`` is cleared once its reminder is handled (sent, or no longer
    needed because the source works again or someone took over).
    """

    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("notice_items.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    remind_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]


class Snooze(Base):
    """ "Remind me": a source's trouble muted until ``until``; ``ended_at`` is set when a newer
    snooze replaces it or when it ran out and was handled (announced again, or not needed)."""

    __tablename__ = "snoozes"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("notice_items.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    choice: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    until: Mapped[datetime]
    ended_at: Mapped[datetime | None]


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


class Event(Base):
    """One change in a source's life. Append-only; ``id`` sorts in the order they happened."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # "evt_" + a ULID
    type: Mapped[str] = mapped_column(String(40))
    workspace_id: Mapped[str] = mapped_column(String(32))
    # No foreign key: the history of a removed source outlives it.
    source_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(80))  # a Slack user id, "scan" or "api-key:<name>"
    payload: Mapped[dict[str, Any]]  # never a secret
    created_at: Mapped[datetime]


class OutboxMessage(Base):
    """Something to send, written in the transaction of the change that causes it.

    The dispatcher delivers pending rows at least once; rows that share an ``order_key`` go one
    at a time in id order. ``key`` is the idempotency key, unique, the same on every try.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(160), unique=True)
    order_key: Mapped[str] = mapped_column(String(160))
    target: Mapped[str | None] = mapped_column(String(64))  # a channel, user or webhook endpoint
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(36))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    result: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class ApiKey(Base):
    """A key for the HTTP API; only a hash is stored. A key sees only its workspace."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))  # the key's first characters, to tell it apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text)  # Fernet ciphertext of the whsec_ signing secret
    event_types: Mapped[list[str] | None] = mapped_column(JSON)  # None: every event
    created_at: Mapped[datetime]
    failing_since: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    removed_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One try at delivering a webhook: what came back and how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    response: Mapped[str | None] = mapped_column(String(500))  # the answer's first 500 bytes
    error: Mapped[str | None] = mapped_column(String(300))


class RoleFact(Base):
    """What Slack said about a person (admin or owner) or a user group (its members), kept at
    most ``roles.FRESH_FOR`` so that every click does not ask Slack again."""

    __tablename__ = "role_facts"
    __table_args__ = (UniqueConstraint("workspace_id", "kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    kind: Mapped[str] = mapped_column(String(8))  # "user" or "group"
    key: Mapped[str] = mapped_column(String(32))  # the user or user group id
    value: Mapped[dict[str, Any]]
    fetched_at: Mapped[datetime]


class Lease(Base):
    """A named lease, so one process at a time does something that must not happen twice
    (using a single-use Slack refresh token)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(160), primary_key=True)
    owner: Mapped[str] = mapped_column(String(36))
    until: Mapped[datetime]


# slack-sdk's installation and OAuth state tables, owned by our migrations. Token columns
# hold Fernet ciphertext (longer than slack-sdk's String(200)); the stores that read and
# write them are in bot/store/slack_stores.py.
SLACK_TOKEN_COLUMNS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
slack_installations = AsyncSQLAlchemyInstallationStore.build_installations_table(
    Base.metadata, "slack_installations"
)
slack_bots = AsyncSQLAlchemyInstallationStore.build_bots_table(Base.metadata, "slack_bots")
slack_oauth_states = AsyncSQLAlchemyOAuthStateStore.build_oauth_states_table(
    Base.metadata, "slack_oauth_states"
)
for _table in (slack_installations, slack_bots):
    for _column in _table.columns:
        if _column.name in SLACK_TOKEN_COLUMNS:
            _column.type = Text()
slack_oauth_states.c.state.type = String(64)  # a SHA-256 hex digest of the state

Index("ix_connect_attempts_expires_at", ConnectAttempt.expires_at)
Index("ix_page_offers_expires_at", PageOffer.expires_at)
# The scan's health checks: per network, the never checked and the longest unchecked first.
Index("ix_sources_network_checked_at", Source.network, Source.checked_at)
# The scan's count of live sources and its search for expiries never announced.
Index("ix_sources_status", Source.status)
Index("ix_events_workspace_id_id", Event.workspace_id, Event.id)
Index("ix_events_source_id_id", Event.source_id, Event.id)
Index("ix_events_created_at", Event.created_at)
Index("ix_outbox_due", OutboxMessage.status, OutboxMessage.next_attempt_at)
Index("ix_outbox_order", OutboxMessage.order_key, OutboxMessage.id)
Index("ix_outbox_workspace_status", OutboxMessage.workspace_id, OutboxMessage.status)
Index("ix_claims_remind_at", Claim.remind_at)
Index("ix_snoozes_until", Snooze.until)
