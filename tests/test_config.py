"""Settings from the environment (bot/config.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings

SECRETS = {
    "SLACK_SIGNING_SECRET": "signing-secret-8f3e",
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-bot-token",
    "LINKEDIN_CLIENT_ID": "li-client-id",
    "LINKEDIN_CLIENT_SECRET": "li-client-secret-77aa",
    "TOKEN_ENCRYPTION_KEY": "fernet-key-material-0123456789abcdef0123456=",
}


def test_defaults() -> None:
    settings = Settings.from_env({})

    assert settings.slack_signing_secret is None
    assert settings.slack_bot_token is None
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.slack_notify_channel is None
    assert settings.database_url == "sqlite:///./sources-bot.db"
    assert settings.public_url == "http://localhost:3000"
    assert settings.port == 3000
    assert settings.digest_hour == 9
    assert settings.digest_timezone == "UTC"
    assert settings.expiry_warning_days == (7, 1)
    assert settings.token_encryption_keys == ()
    assert settings.network("linkedin").configured is False
    assert settings.redirect_uri("linkedin") == "http://localhost:3000/oauth/callback/linkedin"
    assert settings.sqlite_path == Path("./sources-bot.db")


def test_blank_values_count_as_unset() -> None:
    settings = Settings.from_env({"DIGEST_HOUR": "  ", "SLACK_BOT_TOKEN": "", "PORT": " "})

    assert settings.digest_hour == 9
    assert settings.slack_bot_token is None
    assert settings.port == 3000


def test_values_are_read_and_trimmed() -> None:
    settings = Settings.from_env(
        {
            "SLACK_NOTIFY_CHANNEL": " C0NOTICES ",
            "DATABASE_URL": "postgresql://bot@db/bot",
            "PUBLIC_URL": "https://bot.example.com/",
            "PORT": "8080",
            "DIGEST_HOUR": " 17 ",
            "DIGEST_TIMEZONE": "Europe/Paris",
            "TOKEN_ENCRYPTION_KEY": "new-key, old-key",
        }
    )

    assert settings.slack_notify_channel == "C0NOTICES"
    assert settings.database_url == "postgresql://bot@db/bot"
    assert settings.sqlite_path is None
    assert settings.public_url == "https://bot.example.com"
    assert settings.redirect_uri("x") == "https://bot.example.com/oauth/callback/x"
    assert settings.port == 8080
    assert settings.digest_hour == 17
    assert settings.digest_timezone == "Europe/Paris"
    assert settings.token_encryption_keys == ("new-key", "old-key")


@pytest.mark.parametrize("hour", ["0", "23"])
def test_digest_hour_bounds_are_accepted(hour: str) -> None:
    assert Settings.from_env({"DIGEST_HOUR": hour}).digest_hour == int(hour)


@pytest.mark.parametrize("hour", ["24", "-1", "100"])
def test_digest_hour_out_of_range(hour: str) -> None:
    with pytest.raises(ConfigError, match="DIGEST_HOUR"):
        Settings.from_env({"DIGEST_HOUR": hour})


@pytest.mark.parametrize("hour", ["nine", "9am", "9.5"])
def test_digest_hour_not_a_number(hour: str) -> None:
    with pytest.raises(ConfigError, match="DIGEST_HOUR") as caught:
        Settings.from_env({"DIGEST_HOUR": hour})
    assert hour in str(caught.value)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe/Pariss", "../../etc/passwd"])
def test_bad_digest_timezone(zone: str) -> None:
    with pytest.raises(ConfigError, match="DIGEST_TIMEZONE"):
        Settings.from_env({"DIGEST_TIMEZONE": zone})


def test_bad_port() -> None:
    with pytest.raises(ConfigError, match="PORT"):
        Settings.from_env({"PORT": "http"})


@pytest.mark.parametrize(
    ("value", "days"),
    [("7,1", (7, 1)), ("1,7", (7, 1)), (" 14 , 3 ", (14, 3)), ("3", (3,)), ("7,7,1", (7, 1))],
)
def test_expiry_warning_days(value: str, days: tuple[int, ...]) -> None:
    assert Settings.from_env({"EXPIRY_WARNING_DAYS": value}).expiry_warning_days == days


@pytest.mark.parametrize("value", ["0", "7,0", "-1", "7,-3"])
def test_expiry_warning_days_must_be_positive(value: str) -> None:
    with pytest.raises(ConfigError, match="EXPIRY_WARNING_DAYS"):
        Settings.from_env({"EXPIRY_WARNING_DAYS": value})


@pytest.mark.parametrize("value", ["seven", "7;1", "1.5"])
def test_expiry_warning_days_must_be_numbers(value: str) -> None:
    with pytest.raises(ConfigError, match="EXPIRY_WARNING_DAYS"):
        Settings.from_env({"EXPIRY_WARNING_DAYS": value})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:9999/api", "http://127.0.0.1:9999/api/"),
        ("http://127.0.0.1:9999/api/", "http://127.0.0.1:9999/api/"),
    ],
)
def test_slack_api_url_gets_a_trailing_slash(url: str, expected: str) -> None:
    assert Settings.from_env({"SLACK_API_URL": url}).slack_api_url == expected


class TestNetworks:
    def test_credentials_and_overrides_per_network(self) -> None:
        settings = Settings.from_env(
            {
                "LINKEDIN_CLIENT_ID": "li-id",
                "LINKEDIN_CLIENT_SECRET": "li-secret",
                "LINKEDIN_AUTHORIZE_URL": "http://fake/authorize",
                "LINKEDIN_TOKEN_URL": "http://fake/token",
                "LINKEDIN_USERINFO_URL": "http://fake/userinfo",
                "X_TOKEN_URL": "http://fake/x-token",
            }
        )

        linkedin = settings.network("linkedin")
        assert linkedin.client_id == "li-id"
        assert linkedin.client_secret == "li-secret"
        assert linkedin.configured is True
        assert dict(linkedin.urls) == {
            "authorize": "http://fake/authorize",
            "token": "http://fake/token",
            "userinfo": "http://fake/userinfo",
        }
        x = settings.network("x")
        assert dict(x.urls) == {"token": "http://fake/x-token"}
        assert x.configured is False  # overrides alone configure nothing

    def test_unknown_network_is_unconfigured(self) -> None:
        assert Settings.from_env({}).network("tiktok").configured is False

    def test_other_settings_are_not_networks(self) -> None:
        settings = Settings.from_env(
            {
                "SLACK_API_URL": "http://slack.test/api/",
                "DATABASE_URL": "sqlite:///x.db",
                "PUBLIC_URL": "http://bot.test",
                "SLACK_BOT_TOKEN": "xoxb-1",
            }
        )

        assert "slack" not in settings.networks
        assert "database" not in settings.networks
        assert "public" not in settings.networks


class TestRequireSlack:
    def test_names_the_missing_signing_secret(self) -> None:
        with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
            Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1"}).require_slack()

    def test_names_the_missing_bot_token(self) -> None:
        with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
            Settings.from_env({"SLACK_SIGNING_SECRET": "s"}).require_slack()

    def test_passes_with_both(self) -> None:
        Settings.from_env(
            {"SLACK_SIGNING_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb-t"}
        ).require_slack()


def test_repr_shows_no_secret() -> None:
    settings = Settings.from_env(SECRETS)

    shown = repr(settings)

    assert "li-client-id" in shown  # the repr is useful, just not dangerous
    for name in (
        "SLACK_SIGNING_SECRET",
        "SLACK_BOT_TOKEN",
        "LINKEDIN_CLIENT_SECRET",
        "TOKEN_ENCRYPTION_KEY",
    ):
        assert SECRETS[name] not in shown, f"{name} leaks through repr(Settings)"
    assert SECRETS["LINKEDIN_CLIENT_SECRET"] not in str(settings.network("linkedin"))


# What an operator types -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["bot.example.com", "localhost:3000", "/slack", "ftp://bot.example.com", "https://"]
)
def test_public_url_must_be_an_absolute_http_url(url: str) -> None:
    with pytest.raises(ConfigError, match=r"PUBLIC_URL must be an absolute http\(s\) URL"):
        Settings.from_env({"PUBLIC_URL": url})


@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_port_must_be_1_to_65535(port: str) -> None:
    with pytest.raises(ConfigError, match="PORT must be a port number from 1 to 65535"):
        Settings.from_env({"PORT": port})


@pytest.mark.parametrize("port", ["1", "65535"])
def test_port_bounds_are_accepted(port: str) -> None:
    assert Settings.from_env({"PORT": port}).port == int(port)


def test_bot_token_must_be_a_bot_token_and_is_not_echoed() -> None:
    with pytest.raises(
        ConfigError, match="SLACK_BOT_TOKEN must be a bot token, starting with xoxb-"
    ) as err:
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxp-user-token-5555"})
    assert "5555" not in str(err.value)


@pytest.mark.parametrize(
    ("present", "missing"),
    [("X_CLIENT_ID", "X_CLIENT_SECRET"), ("X_CLIENT_SECRET", "X_CLIENT_ID")],
)
def test_half_a_network_app_names_both_variables(present: str, missing: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env({present: "value-1234"})
    message = str(err.value)
    assert f"{present} is set but {missing} is not" in message
    assert "X_CLIENT_ID and X_CLIENT_SECRET" in message
    assert "value-1234" not in message


def test_pool_size_is_read_and_checked() -> None:
    assert Settings.from_env({}).database_pool_size is None
    assert Settings.from_env({"DATABASE_POOL_SIZE": "12"}).database_pool_size == 12
    for bad in ("0", "-3", "1001"):
        with pytest.raises(ConfigError, match="DATABASE_POOL_SIZE must be a number"):
            Settings.from_env({"DATABASE_POOL_SIZE": bad})
    with pytest.raises(ConfigError, match="DATABASE_POOL_SIZE must be a whole number"):
        Settings.from_env({"DATABASE_POOL_SIZE": "many"})


class TestModes:
    def test_bot_token_mode_by_default(self) -> None:
        settings = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"})
        assert not settings.install_mode and not settings.socket_mode
        assert settings.uninstall_retention.days == 30
        assert settings.slack_authorize_url == "https://slack.com/oauth/v2/authorize"

    def test_install_mode_needs_no_bot_token(self) -> None:
        settings = Settings.from_env(
            {
                "SLACK_CLIENT_ID": "1.2",
                "SLACK_CLIENT_SECRET": "client-secret-9f",
                "SLACK_SIGNING_SECRET": "s",
                "SLACK_AUTHORIZE_URL": "http://127.0.0.1:9/oauth/v2/authorize",
                "UNINSTALL_RETENTION_DAYS": "7",
            }
        )
        settings.require_slack()
        assert settings.install_mode
        assert settings.uninstall_retention.days == 7
        assert settings.slack_authorize_url == "http://127.0.0.1:9/oauth/v2/authorize"
        assert "client-secret-9f" not in repr(settings)
        assert "slack" not in settings.networks

    @pytest.mark.parametrize(
        ("env", "named"),
        [
            ({"SLACK_CLIENT_ID": "1.2"}, "SLACK_CLIENT_SECRET is missing"),
            ({"SLACK_CLIENT_SECRET": "x"}, "SLACK_CLIENT_ID is missing"),
            (
                {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "x", "SLACK_BOT_TOKEN": "xoxb-1"},
                "both set",
            ),
            ({"SLACK_APP_TOKEN": "xoxb-not-an-app-token"}, "SLACK_APP_TOKEN must be"),
            ({"UNINSTALL_RETENTION_DAYS": "0"}, "UNINSTALL_RETENTION_DAYS"),
        ],
    )
    def test_mistakes_are_named(self, env: dict[str, str], named: str) -> None:
        with pytest.raises(ConfigError, match=named) as error:
            Settings.from_env(env)
        assert "xoxb-not-an-app-token" not in str(error.value)

    def test_socket_mode_needs_no_signing_secret(self) -> None:
        settings = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1-x"})
        settings.require_slack()
        assert settings.socket_mode
        assert "xapp-1-x" not in repr(settings)

    def test_without_a_token_or_an_install_the_message_says_both_ways(self) -> None:
        with pytest.raises(ConfigError, match="SLACK_CLIENT_ID and SLACK_CLIENT_SECRET"):
            Settings.from_env({"SLACK_SIGNING_SECRET": "s"}).require_slack()


# --- the team workflow's defaults (issue 9) ---------------------------------------------------


def test_team_workflow_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.renewal_warn_after == timedelta(hours=1)
    assert (settings.claim_remind_hours, settings.max_snooze_days) == (4, 3)
    assert settings.escalate_after_hours == 24


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1h", timedelta(hours=1)),
        ("30m", timedelta(minutes=30)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (" 2H ", timedelta(hours=2)),
        ("90m", timedelta(minutes=90)),
        ("0", timedelta(0)),
    ],
)
def test_renewal_warn_after_is_a_duration(value: str, expected: timedelta) -> None:
    assert Settings.from_env({"RENEWAL_WARN_AFTER": value}).renewal_warn_after == expected


@pytest.mark.parametrize("value", ["1", "an hour", "1d", "-1h", "h", "15d0h", "400h"])
def test_renewal_warn_after_refuses_what_is_not_a_duration(value: str) -> None:
    with pytest.raises(ConfigError, match="RENEWAL_WARN_AFTER must be a duration such as 1h"):
        Settings.from_env({"RENEWAL_WARN_AFTER": value})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CLAIM_REMIND_HOURS", "0"),
        ("CLAIM_REMIND_HOURS", "four"),
        ("MAX_SNOOZE_DAYS", "-1"),
        ("MAX_SNOOZE_DAYS", "31"),
        ("ESCALATE_AFTER_HOURS", "0"),
        ("ESCALATE_AFTER_HOURS", "721"),
    ],
)
def test_team_workflow_numbers_are_bounded(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_team_workflow_numbers_are_read() -> None:
    settings = Settings.from_env(
        {"CLAIM_REMIND_HOURS": "2", "MAX_SNOOZE_DAYS": "0", "ESCALATE_AFTER_HOURS": "48"}
    )
    assert (settings.claim_remind_hours, settings.max_snooze_days) == (2, 0)
    assert settings.escalate_after_hours == 48
