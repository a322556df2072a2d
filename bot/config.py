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
    database_url: str = DEFAULT_DATABASE_URL
    database_pool_size: int | None = None  # None: the driver's default
    public_url: str = "http://localhost:3000"
    port: int = 3000
    digest_hour: int = 9
    digest_timezone: str = "UTC"
    digest_always_post: bool = False
    expiry_warning_days: tuple[int, ...] = (7, 1)
    renewal_failure_budget: timedelta = timedelta(hours=24)
    event_retention: timedelta = timedelta(days=365)
    token_encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    webhook_timeout_seconds: float = 10.0
    network_concurrency: int = 8  # renewals and health checks in flight per network
    networks: Mapping[str, NetworkCredentials] = field(default_factory=dict)

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
        retention_days = _int(get("EVENT_RETENTION_DAYS"), "EVENT_RETENTION_DAYS", 365)
        if retention_days < 1:
            raise ConfigError("EVENT_RETENTION_DAYS must be 1 or more")
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
        return cls(
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_bot_token=bot_token,
            slack_api_url=slack_api_url,
            slack_notify_channel=get("SLACK_NOTIFY_CHANNEL"),
            database_url=get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            database_pool_size=database_pool_size,
            public_url=public_url,
            port=port,
            digest_hour=digest_hour,
            digest_timezone=digest_timezone,
            digest_always_post=_bool(get("DIGEST_ALWAYS_POST"), "DIGEST_ALWAYS_POST"),
            expiry_warning_days=warning_days,
            renewal_failure_budget=timedelta(hours=budget_hours),
            event_retention=timedelta(days=retention_days),
            token_encryption_keys=tuple(_split(get("TOKEN_ENCRYPTION_KEY"))),
            webhook_timeout_seconds=webhook_timeout,
            network_concurrency=network_concurrency,
            networks=networks,
        )

    def require_slack(self) -> None:
        """Fail fast, naming the variable, when Slack cannot be served."""
        if not self.slack_signing_secret:
            raise ConfigError("SLACK_SIGNING_SECRET is missing: Slack requests cannot be verified")
        if not self.slack_bot_token:
            raise ConfigError("SLACK_BOT_TOKEN is missing: the bot cannot talk to Slack")

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
