"""Settings read once from the environment and validated at start-up.

Nothing else in the bot reads ``os.environ``: tests and the CLI pass a mapping to
:meth:`Settings.from_env` and hand the resulting object down.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DATABASE_URL = "sqlite:///./sources-bot.db"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
MAX_POOL_SIZE = 1000
MAX_NETWORK_CONCURRENCY = 100
DEFAULT_SLACK_AUTHORIZE_URL = "https://slack.com/oauth/v2/authorize"
# Bounds of the team workflow's settings (the environment's defaults and each workspace's).
MAX_WARN_AFTER = timedelta(days=14)
MAX_CLAIM_REMIND_HOURS = 24 * 7
MAX_SNOOZE_DAYS = 30
MAX_ESCALATE_HOURS = 24 * 30


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class NetworkCredentials:
    """What the operator configured for one network: app credentials and endpoint overrides.

    ``urls`` maps a catalogue URL key ("authorize", "token", "userinfo", "refresh", ...) to
    the value of ``{NETWORK}_{KEY}_URL``.
    """

    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    urls: Mapping[str, str] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)


@dataclass(frozen=True)
class Settings:
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    slack_notify_channel: str | None = None
    # Install mode (many workspaces): the Slack app's OAuth credentials.
    slack_client_id: str | None = None
    slack_client_secret: str | None = field(default=None, repr=False)
    slack_authorize_url: str = DEFAULT_SLACK_AUTHORIZE_URL
    # Socket Mode: the app-level token (xapp-).
    slack_app_token: str | None = field(default=None, repr=False)
    database_url: str = DEFAULT_DATABASE_URL
    database_pool_size: int | None = None  # None: the driver's default
    public_url: str = "http://localhost:3000"
    port: int = 3000
    digest_hour: int = 9
    digest_timezone: str = "UTC"
    digest_always_post: bool = False
    expiry_warning_days: tuple[int, ...] = (7, 1)
    renewal_failure_budget: timedelta = timedelta(hours=24)
    # The team's workflow (each also a workspace setting): how long passing renewal failures
    # stay quiet, when a claim's owner is reminded, how long a dead source may be snoozed,
    # and when a dead source is escalated.
    renewal_warn_after: timedelta = timedelta(hours=1)
    claim_remind_hours: int = 4
    max_snooze_days: int = 3
    escalate_after_hours: int = 24
    event_retention: timedelta = timedelta(days=365)
    uninstall_retention: timedelta = timedelta(days=30)
    token_encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    webhook_timeout_seconds: float = 10.0
    network_concurrency: int = 8  # renewals and health checks in flight per network
    slack_channel_interval: float = 1.0  # seconds between two posts to one channel
    networks: Mapping[str, NetworkCredentials] = field(default_factory=dict)
    log_format: str = "text"
    metrics_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``env`` (default ``os.environ``); ConfigError names a bad variable."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        public_url = _public_url(get("PUBLIC_URL") or "http://localhost:3000")
        port = _int(get("PORT"), "PORT", 3000)
        if not 1 <= port <= 65535:
            raise ConfigError(f"PORT must be a port number from 1 to 65535, not {port}")
        bot_token = get("SLACK_BOT_TOKEN")
        if bot_token is not None and not bot_token.startswith("xoxb-"):
            # The message must not echo the token.
            raise ConfigError(
                "SLACK_BOT_TOKEN must be a bot token, starting with xoxb- "
                "(the Bot User OAuth Token of the app's install page)"
            )
        pool_size = get("DATABASE_POOL_SIZE")
        database_pool_size = None
        if pool_size is not None:
            database_pool_size = _int(pool_size, "DATABASE_POOL_SIZE", 0)
            if not 1 <= database_pool_size <= MAX_POOL_SIZE:
                raise ConfigError(
                    f"DATABASE_POOL_SIZE must be a number of connections from 1 to {MAX_POOL_SIZE}"
                )
        slack_api_url = get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
        if not slack_api_url.endswith("/"):
            slack_api_url += "/"
        digest_timezone = get("DIGEST_TIMEZONE") or "UTC"
        try:
            ZoneInfo(digest_timezone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ConfigError(
                f"DIGEST_TIMEZONE {digest_timezone!r} is not a known time zone"
            ) from err
        webhook_timeout = _float(get("WEBHOOK_TIMEOUT_SECONDS"), "WEBHOOK_TIMEOUT_SECONDS", 10.0)
        if not 0 < webhook_timeout <= 60:
            raise ConfigError("WEBHOOK_TIMEOUT_SECONDS must be more than 0 and at most 60")
        network_concurrency = _int(get("NETWORK_CONCURRENCY"), "NETWORK_CONCURRENCY", 8)
        if not 1 <= network_concurrency <= MAX_NETWORK_CONCURRENCY:
            raise ConfigError(
                "NETWORK_CONCURRENCY must be a number of requests from 1 to "
                f"{MAX_NETWORK_CONCURRENCY}"
            )
        channel_interval = _float(
            get("SLACK_CHANNEL_INTERVAL_SECONDS"), "SLACK_CHANNEL_INTERVAL_SECONDS", 1.0
        )
        if not 0 <= channel_interval <= 60:
            raise ConfigError("SLACK_CHANNEL_INTERVAL_SECONDS must be from 0 to 60")
        digest_hour = _int(get("DIGEST_HOUR"), "DIGEST_HOUR", 9)
        if not 0 <= digest_hour <= 23:
            raise ConfigError("DIGEST_HOUR must be an hour from 0 to 23")
        warning_days = tuple(
            sorted(
                {
                    _int(part, "EXPIRY_WARNING_DAYS", 0)
                    for part in _split(get("EXPIRY_WARNING_DAYS"))
                }
                or {7, 1},
                reverse=True,
            )
        )
        if any(day < 1 for day in warning_days):
            raise ConfigError("EXPIRY_WARNING_DAYS must list whole days of 1 or more, e.g. 7,1")

        budget_hours = _int(get("RENEWAL_FAILURE_BUDGET_HOURS"), "RENEWAL_FAILURE_BUDGET_HOURS", 24)
        if budget_hours < 1:
            raise ConfigError("RENEWAL_FAILURE_BUDGET_HOURS must be 1 or more")
        warn_after = get("RENEWAL_WARN_AFTER")
        renewal_warn_after = timedelta(hours=1)
        if warn_after is not None:
            parsed = parse_duration(warn_after)
            if parsed is None or parsed > MAX_WARN_AFTER:
                raise ConfigError(
                    "RENEWAL_WARN_AFTER must be a duration such as 1h, 30m or 1h30m "
                    f"(at most {MAX_WARN_AFTER.days} days), not {warn_after!r}"
                )
            renewal_warn_after = parsed
        claim_remind_hours = _int(get("CLAIM_REMIND_HOURS"), "CLAIM_REMIND_HOURS", 4)
        if not 1 <= claim_remind_hours <= MAX_CLAIM_REMIND_HOURS:
            raise ConfigError(
                f"CLAIM_REMIND_HOURS must be whole hours from 1 to {MAX_CLAIM_REMIND_HOURS}"
            )
        max_snooze_days = _int(get("MAX_SNOOZE_DAYS"), "MAX_SNOOZE_DAYS", 3)
        if not 0 <= max_snooze_days <= MAX_SNOOZE_DAYS:
            raise ConfigError(f"MAX_SNOOZE_DAYS must be whole days from 0 to {MAX_SNOOZE_DAYS}")
        escalate_hours = _int(get("ESCALATE_AFTER_HOURS"), "ESCALATE_AFTER_HOURS", 24)
        if not 1 <= escalate_hours <= MAX_ESCALATE_HOURS:
            raise ConfigError(
                f"ESCALATE_AFTER_HOURS must be whole hours from 1 to {MAX_ESCALATE_HOURS}"
            )
        retention_days = _int(get("EVENT_RETENTION_DAYS"), "EVENT_RETENTION_DAYS", 365)
        if retention_days < 1:
            raise ConfigError("EVENT_RETENTION_DAYS must be 1 or more")
        uninstall_days = _int(get("UNINSTALL_RETENTION_DAYS"), "UNINSTALL_RETENTION_DAYS", 30)
        if uninstall_days < 1:
            raise ConfigError("UNINSTALL_RETENTION_DAYS must be 1 or more")
        client_id, client_secret = get("SLACK_CLIENT_ID"), get("SLACK_CLIENT_SECRET")
        if bool(client_id) != bool(client_secret):
            missing = "SLACK_CLIENT_SECRET" if client_id else "SLACK_CLIENT_ID"
            raise ConfigError(
                f"{missing} is missing: install mode needs both SLACK_CLIENT_ID and "
                "SLACK_CLIENT_SECRET"
            )
        if client_id and get("SLACK_BOT_TOKEN"):
            raise ConfigError(
                "SLACK_BOT_TOKEN and SLACK_CLIENT_ID/SLACK_CLIENT_SECRET are both set: set the "
                "bot token for one workspace, or the client id and secret to let workspaces "
                "install the app, not both"
            )
        app_token = get("SLACK_APP_TOKEN")
        if app_token is not None and not app_token.startswith("xapp-"):
            # The message must not echo the token.
            raise ConfigError(
                "SLACK_APP_TOKEN must be an app-level token starting with xapp- "
                "(Basic Information, App-Level Tokens, with the connections:write scope)"
            )
        networks = {
            prefix.lower(): NetworkCredentials(
                client_id=get(f"{prefix}_CLIENT_ID"),
                client_secret=get(f"{prefix}_CLIENT_SECRET"),
                urls={
                    key.lower(): value
                    for (net, key) in _url_overrides(env)
                    if net == prefix and (value := get(f"{net}_{key}_URL"))
                },
            )
            for prefix in _network_prefixes(env)
        }
        for prefix, credentials in sorted(networks.items()):
            if bool(credentials.client_id) != bool(credentials.client_secret):
                have, missing = ("CLIENT_ID", "CLIENT_SECRET")
                if credentials.client_secret:
                    have, missing = missing, have
                name = prefix.upper()
                raise ConfigError(
                    f"{name}_{have} is set but {name}_{missing} is not: "
                    f"set both {name}_CLIENT_ID and {name}_CLIENT_SECRET, or neither"
                )
        log_format = (get("LOG_FORMAT") or "text").lower()
        if log_format not in {"text", "json"}:
            raise ConfigError(f"LOG_FORMAT must be text or json, not {log_format!r}")
        return cls(
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_bot_token=bot_token,
            slack_api_url=slack_api_url,
            slack_notify_channel=get("SLACK_NOTIFY_CHANNEL"),
            slack_client_id=client_id,
            slack_client_secret=client_secret,
            slack_authorize_url=get("SLACK_AUTHORIZE_URL") or DEFAULT_SLACK_AUTHORIZE_URL,
            slack_app_token=app_token,
            database_url=get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            database_pool_size=database_pool_size,
            public_url=public_url,
            port=port,
            digest_hour=digest_hour,
            digest_timezone=digest_timezone,
            digest_always_post=_bool(get("DIGEST_ALWAYS_POST"), "DIGEST_ALWAYS_POST"),
            expiry_warning_days=warning_days,
            renewal_failure_budget=timedelta(hours=budget_hours),
            renewal_warn_after=renewal_warn_after,
            claim_remind_hours=claim_remind_hours,
            max_snooze_days=max_snooze_days,
            escalate_after_hours=escalate_hours,
            event_retention=timedelta(days=retention_days),
            uninstall_retention=timedelta(days=uninstall_days),
            token_encryption_keys=tuple(_split(get("TOKEN_ENCRYPTION_KEY"))),
            webhook_timeout_seconds=webhook_timeout,
            network_concurrency=network_concurrency,
            slack_channel_interval=channel_interval,
            networks=networks,
            log_format=log_format,
            metrics_token=get("METRICS_TOKEN"),
        )

    @property
    def install_mode(self) -> bool:
        """Many workspaces install the app through OAuth; each has its own bot token."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def socket_mode(self) -> bool:
        """Slack's requests come over Socket Mode instead of POST /slack/events."""
        return self.slack_app_token is not None

    def require_slack(self) -> None:
        """Fail fast, naming the variable, when Slack cannot be served."""
        if not self.slack_signing_secret and not self.socket_mode:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is missing: Slack requests cannot be verified "
                "(or set SLACK_APP_TOKEN to receive them over Socket Mode)"
            )
        if not self.slack_bot_token and not self.install_mode:
            raise ConfigError(
                "SLACK_BOT_TOKEN is missing: the bot cannot talk to Slack "
                "(or set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET to let workspaces install it)"
            )

    def network(self, name: str) -> NetworkCredentials:
        return self.networks.get(name, NetworkCredentials())

    def redirect_uri(self, network: str) -> str:
        return f"{self.public_url}/oauth/callback/{network}"

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None for other databases and in-memory SQLite."""
        url = self.database_url
        for prefix in ("sqlite:///", "sqlite+aiosqlite:///"):
            if url.startswith(prefix):
                path = url[len(prefix) :].split("?", 1)[0]
                return Path(path) if path and path != ":memory:" else None
        return None


def _public_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"PUBLIC_URL must be an absolute http(s) URL such as https://bot.example.com, "
            f"not {value!r}"
        )
    return value.rstrip("/")


_DURATION = re.compile(r"^(?:(?P<hours>\d{1,4})h)?(?:(?P<minutes>\d{1,5})m)?$")


def parse_duration(text: str) -> timedelta | None:
    """'1h', '30m', '1h30m' or '0' as a timedelta; None when it is not one of those."""
    value = text.strip().lower().replace(" ", "")
    if value == "0":
        return timedelta(0)
    match = _DURATION.match(value)
    if not value or match is None:
        return None
    return timedelta(hours=int(match["hours"] or 0), minutes=int(match["minutes"] or 0))


def format_duration(value: timedelta) -> str:
    """The other way round: '1h', '30m', '1h30m', '0m'."""
    minutes = int(value.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours}h{minutes}m"
    return f"{hours}h" if hours else f"{minutes}m"


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _int(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as err:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from err


def _float(value: str | None, name: str, default: float) -> float:
    if value is None:
        return default
    try:
        return float(value)
    except ValueError as err:
        raise ConfigError(f"{name} must be a number of seconds, not {value!r}") from err


def _bool(value: str | None, name: str) -> bool:
    if value is None:
        return False
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")


_URL_OVERRIDE = re.compile(r"^(?P<net>[A-Z]+)_(?P<key>[A-Z]+(?:_[A-Z]+)*)_URL$")
_NOT_NETWORKS = {"SLACK", "DATABASE", "PUBLIC", "TEST", "WEBHOOK"}


def _url_overrides(env: Mapping[str, str]) -> set[tuple[str, str]]:
    """(NETWORK, KEY) for every ``{NETWORK}_{KEY}_URL`` variable."""
    found = set()
    for name in env:
        match = _URL_OVERRIDE.match(name)
        if match and match["net"] not in _NOT_NETWORKS:
            found.add((match["net"], match["key"]))
    return found


def _network_prefixes(env: Mapping[str, str]) -> set[str]:
    """Every NETWORK prefix that has a client id, secret or URL override set."""
    prefixes = {net for net, _ in _url_overrides(env)}
    for name in env:
        for suffix in ("_CLIENT_ID", "_CLIENT_SECRET"):
            prefix = name[: -len(suffix)]
            if name.endswith(suffix) and prefix.isalpha() and prefix not in _NOT_NETWORKS:
                prefixes.add(prefix)
    return prefixes
