"""Values that cross layers: what services hand to block builders and the CLI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum


class Status(StrEnum):
    ACTIVE = "active"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    REVOKED = "revoked"

    @property
    def needs_reconnect(self) -> bool:
        return self in (Status.EXPIRED, Status.REVOKED)


@dataclass(frozen=True)
class LastError:
    """The latest failure seen for a source; ``reason`` is plain words safe to show in Slack."""

    kind: str
    reason: str
    at: datetime

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "reason": self.reason, "at": self.at.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, str] | None) -> LastError | None:
        if not data:
            return None
        return cls(kind=data["kind"], reason=data["reason"], at=datetime.fromisoformat(data["at"]))


@dataclass(frozen=True)
class SourceInfo:
    id: int
    workspace_id: str
    network: str
    network_title: str
    account_id: str
    name: str
    status: Status
    expires_at: datetime | None
    last_error: LastError | None = None
    restored_at: datetime | None = None
    restored_by: str | None = None
    connected_by: str | None = None
    connected_as: str | None = None
    kind: str = "account"
    renews_at: datetime | None = None  # when the bot renews it by itself; None if it cannot

    @property
    def label(self) -> str:
        return f"{self.network_title} · {self.name}"


@dataclass(frozen=True)
class Listing:
    """The head of a list of sources in display order, with counts of the whole list: what a
    view can show, read without reading every source."""

    first: Sequence[SourceInfo]
    total: int
    broken: int  # sources that need reconnecting


@dataclass(frozen=True)
class DeliveryProblem:
    """Messages the bot could not send and stopped trying: ``what`` ("Notices"), ``where``
    (a channel or user id, or a webhook URL), and the reason in words a person can act on."""

    what: str
    where: str | None
    reason: str
    count: int = 1


@dataclass(frozen=True)
class Identity:
    """Who a token belongs to, as the network's identity endpoint says."""

    account_id: str
    name: str


@dataclass(frozen=True)
class Page:
    """A page, organization or channel a token reaches; Facebook pages carry their own token."""

    account_id: str
    name: str
    access_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class TokenSet:
    """Tokens in clear: they live only in memory, and their repr hides them."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None
    scopes: str | None


@dataclass(frozen=True)
class WebhookEndpointInfo:
    """A webhook endpoint as operators and the App Home see it (never its secret)."""

    id: int
    workspace_id: str
    url: str
    event_types: tuple[str, ...] | None  # None: every event
    created_at: datetime
    failing_since: datetime | None = None
    disabled_at: datetime | None = None
    disabled_reason: str | None = None

    @property
    def display_url(self) -> str:
        """The URL without its query string, which may hold a receiver's own token."""
        return self.url.split("?", 1)[0].split("#", 1)[0]


@dataclass(frozen=True)
class UserGroup:
    """A Slack user group (``@handle``), as the settings offer them."""

    id: str
    handle: str
    name: str


# Who may act in a workspace, and on which days its digest comes.
EVERYONE = "everyone"
ADMINS = "admins"  # workspace admins and owners
GROUP = "group"  # admins, owners and the members of a user group
CONNECT_ROLES = (EVERYONE, ADMINS, GROUP)
SETTINGS_ROLES = (ADMINS, GROUP)

DAILY = "daily"
WEEKDAYS = "weekdays"
DIGEST_DAYS = (DAILY, WEEKDAYS)

# Whom an escalation mentions: the workspace's admins and owners, or a user group.
ESCALATION_TARGETS = (ADMINS, GROUP)


@dataclass(frozen=True)
class SnoozeChoice:
    """One way to snooze a source offered under "Remind me": ``key`` travels in the option's
    value, ``label`` is what the person reads."""

    key: str
    label: str


@dataclass(frozen=True)
class Attention:
    """Who is on a source's trouble and whether it is muted, as a notice shows it: the
    latest claim, a snooze still running, the ways it may be snoozed now, and since when its
    renewal has been failing (None when it is not)."""

    claimed_by: str | None = None
    snoozed_by: str | None = None
    snoozed_until: datetime | None = None
    choices: tuple[SnoozeChoice, ...] = ()
    failing_since: datetime | None = None


@dataclass(frozen=True)
class WorkspaceSettings:
    notify_channel: str | None
    network_channels: Mapping[str, str] = field(default_factory=dict)
    digest_hour: int = 9
    digest_timezone: str = "UTC"
    digest_days: str = DAILY
    warning_days: tuple[int, ...] = (7, 1)
    renewal_failure_budget: timedelta = timedelta(hours=24)
    connect_role: str = EVERYONE
    connect_group: str | None = None
    settings_role: str = ADMINS
    settings_group: str | None = None
    renewal_warn_after: timedelta = timedelta(hours=1)
    claim_remind_hours: int = 4
    max_snooze_days: int = 3
    escalate_after_hours: int = 24
    escalation_target: str = ADMINS
    escalation_group: str | None = None

    def channel_for(self, network: str) -> str | None:
        """Where notices about ``network``'s sources go."""
        return self.network_channels.get(network) or self.notify_channel

    def digest_on(self, day: date) -> bool:
        return self.digest_days == DAILY or day.weekday() < 5

    def role(self, kind: str) -> tuple[str, str | None]:
        """(role, user group) of who may ``kind`` ("connect" or "settings")."""
        if kind == "settings":
            return self.settings_role, self.settings_group
        return self.connect_role, self.connect_group

    @property
    def budget_hours(self) -> int:
        return int(self.renewal_failure_budget.total_seconds() // 3600)
