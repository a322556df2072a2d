"""The `sources-bot` command line, run through ``bot.cli.main(argv, env)`` as an operator would.

These tests are plain functions: ``main`` runs its own event loop with ``asyncio.run``. Commands
that talk to Slack get a FakeSlack served from a background thread with its own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import CHANNEL, TEAM
from cryptography.fernet import Fernet
from fakes.slack_api import FakeSlack
from sqlalchemy import text

from bot.cli import main
from bot.store.db import create_engine

# Nothing listens on port 9 ("discard"): a command that reaches for Slack unexpectedly fails
# fast instead of going to the internet.
NO_SLACK = "http://127.0.0.1:9/api/"
# TOKEN_ENCRYPTION_KEY for databases other than SQLite (which uses the dev key file).
KEY = Fernet.generate_key().decode()

ACCESS = "AQV-plain-access-token-0123456789"
REFRESH = "AQX-plain-refresh-token-9876543210"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    """The environment of every command: no Slack, the test database, a key unless SQLite."""
    values = {"DATABASE_URL": database_url, "SLACK_API_URL": NO_SLACK}
    if not database_url.startswith("sqlite"):
        values["TOKEN_ENCRYPTION_KEY"] = KEY
    return values


def run(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], *argv: str
) -> tuple[int, str, str]:
    """Run ``sources-bot argv`` with ``env``; return (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(list(argv), env)
    out, err = capsys.readouterr()
    return code, out, err


def record(account_id: str = "urn-acme", name: str = "Acme Corp", **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "network": "linkedin",
        "account_id": account_id,
        "name": name,
        "access_token": f"token-of-{account_id}",
        "expires_at": (NOW + timedelta(days=30)).isoformat(),
        "workspace": TEAM,
    }
    values.update(fields)
    return {key: value for key, value in values.items() if value is not None}


def write(tmp_path: Path, data: Any, name: str = "sources.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def listed(capsys: pytest.CaptureFixture[str], env: dict[str, str]) -> list[dict[str, Any]]:
    code, out, err = run(capsys, env, "sources", "list", "--json")
    assert code == 0, err
    result: list[dict[str, Any]] = json.loads(out)
    return result


def rows(database_url: str, sql: str, **params: Any) -> list[Any]:
    """Read the database directly, the way an attacker with a copy of it would."""

    async def query() -> list[Any]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                return list((await connection.execute(text(sql), params)).all())
        finally:
            await engine.dispose()

    return asyncio.run(query())


def cipher(env: dict[str, str]) -> Fernet:
    """The key the bot used: TOKEN_ENCRYPTION_KEY, or the dev key file beside SQLite."""
    if "TOKEN_ENCRYPTION_KEY" in env:
        return Fernet(env["TOKEN_ENCRYPTION_KEY"].encode())
    db_path = Path(env["DATABASE_URL"].removeprefix("sqlite:///"))
    return Fernet(db_path.with_name(db_path.name + ".key").read_text().strip().encode())


def assert_one_line_error(err: str, *words: str) -> None:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0]


@contextlib.contextmanager
def running_slack() -> Iterator[FakeSlack]:
    """A FakeSlack on 127.0.0.1, served by its own event loop in a background thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-slack", daemon=True)
    thread.start()
    fake = FakeSlack(team_id=TEAM)
    try:
        asyncio.run_coroutine_threadsafe(fake.start(), loop).result(timeout=10)
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
    assert fake.violations == [], "Block Kit payloads broke Slack's limits"


def with_slack(env: dict[str, str], fake: FakeSlack, **extra: str) -> dict[str, str]:
    return {**env, "SLACK_API_URL": fake.api_url, "SLACK_BOT_TOKEN": "xoxb-test-token", **extra}


# db upgrade ----------------------------------------------------------------------------------


def test_db_upgrade_reports_up_to_date_and_is_repeatable(
    capsys: pytest.CaptureFixture[str], env: dict[str, str]
) -> None:
    for _ in range(2):
        code, out, err = run(capsys, env, "db", "upgrade")
        assert code == 0, err
        assert out.strip() == "database is up to date"


def test_unreachable_database_is_one_line_without_secrets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "postgresql://bot:db-password-123@127.0.0.1:9/bot"
    code, out, err = run(capsys, {"DATABASE_URL": url}, "db", "upgrade")
    assert code == 1
    assert_one_line_error(err, "cannot open the database")
    assert "db-password-123" not in out + err


# sources import / list -----------------------------------------------------------------------


def test_import_then_list_json(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    expires = NOW + timedelta(days=50)
    records = [
        record(
            "urn-acme",
            "Acme Corp",
            access_token=ACCESS,
            refresh_token=REFRESH,
            scopes=["openid", "profile"],
            expires_at=expires.isoformat(),
        ),
        record("urn-blog", "Acme Blog", network="LinkedIn"),
    ]
    code, out, err = run(capsys, env, "sources", "import", write(tmp_path, records))
    assert code == 0, err
    assert out.strip() == "imported 2 source(s): 2 new, 0 updated"

    sources = listed(capsys, env)
    assert [s["account_id"] for s in sources] == ["urn-blog", "urn-acme"]  # by network, name
    acme = next(s for s in sources if s["account_id"] == "urn-acme")
    assert isinstance(acme["id"], int)
    assert acme["workspace"] == TEAM
    assert acme["network"] == "linkedin"
    assert acme["name"] == "Acme Corp"
    assert acme["status"] == "active"
    assert datetime.fromisoformat(acme["expires_at"]) == expires
    assert acme["last_error"] is None
    assert sources[0]["network"] == "linkedin"  # network names are case-insensitive

    credential = rows(
        env["DATABASE_URL"],
        "SELECT scopes, refresh_token FROM credentials WHERE source_id = :id",
        id=acme["id"],
    )
    assert len(credential) == 1
    assert credential[0].scopes == "openid profile"
    assert cipher(env).decrypt(credential[0].refresh_token.encode()).decode() == REFRESH

    code, out, _ = run(capsys, env, "sources", "list")
    assert code == 0
    assert "Acme Corp" in out and "Acme Blog" in out and "active" in out


def test_list_when_empty(capsys: pytest.CaptureFixture[str], env: dict[str, str]) -> None:
    assert listed(capsys, env) == []
    code, out, _ = run(capsys, env, "sources", "list")
    assert code == 0
    assert out.strip() == "no sources yet"


def test_import_again_updates_source_and_keeps_old_credential(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    first = write(tmp_path, [record(access_token="old-access-token")], "first.json")
    assert run(capsys, env, "sources", "import", first)[0] == 0
    (before,) = listed(capsys, env)

    later = NOW + timedelta(days=60)
    second = write(
        tmp_path,
        [
            record(
                name="Acme Corporation",
                access_token="new-access-token",
                expires_at=later.isoformat(),
            )
        ],
        "second.json",
    )
    code, out, err = run(capsys, env, "sources", "import", second)
    assert code == 0, err
    assert out.strip() == "imported 1 source(s): 0 new, 1 updated"

    (after,) = listed(capsys, env)
    assert after["id"] == before["id"]
    assert after["name"] == "Acme Corporation"
    assert datetime.fromisoformat(after["expires_at"]) == later

    history = rows(
        env["DATABASE_URL"],
        "SELECT access_token FROM credentials WHERE source_id = :id ORDER BY id",
        id=after["id"],
    )
    fernet = cipher(env)
    assert [fernet.decrypt(row.access_token.encode()).decode() for row in history] == [
        "old-access-token",
        "new-access-token",
    ]


def test_bad_records_are_each_reported_and_nothing_is_imported(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    assert run(capsys, env, "sources", "import", write(tmp_path, [record()], "ok.json"))[0] == 0
    before = listed(capsys, env)

    bad = [
        record("urn-new", "Fine On Its Own"),
        record("urn-2", "No Token", access_token=None, colour="blue"),
        record("urn-3", "Naive Date", expires_at="2030-01-31T09:00:00"),
        record("urn-4", "Old Network", network="myspace"),
        "not an object",
        record("urn-6", "Bad Scopes", scopes="openid", expires_at="next week"),
        record("urn-new", "Same Again"),
    ]
    code, out, err = run(capsys, env, "sources", "import", write(tmp_path, bad, "bad.json"))
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[-1] == "nothing was imported"
    problems = lines[:-1]
    assert "record 2: access_token: required, a non-empty string" in problems
    assert "record 2: colour: unknown field" in problems
    assert any(p.startswith("record 3: expires_at: needs a UTC offset") for p in problems)
    assert any(p.startswith("record 4: network: unknown network 'myspace'") for p in problems)
    assert "record 5: must be a JSON object" in problems
    assert "record 6: scopes: must be a list of strings" in problems
    assert "record 6: expires_at: not an ISO 8601 date-time" in problems
    assert "record 7: account_id: same account as record 1" in problems
    assert not any(p.startswith("record 1:") for p in problems)
    assert len(problems) == 8

    assert listed(capsys, env) == before


def test_bad_records_into_an_empty_database_leave_it_empty(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    bad = [record(), record("urn-2", name="  ")]
    code, _, err = run(capsys, env, "sources", "import", write(tmp_path, bad))
    assert code == 1
    assert "record 2: name: required, a non-empty string" in err.splitlines()
    assert listed(capsys, env) == []
    assert rows(env["DATABASE_URL"], "SELECT id FROM credentials") == []


def test_kind_must_be_account_or_the_networks_page_kind(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    bad = [record("urn-org", kind="organization"), record("urn-page", kind="page")]
    code, _, err = run(capsys, env, "sources", "import", write(tmp_path, bad, "bad.json"))
    assert code == 1
    assert err.splitlines()[:-1] == [
        "record 2: kind: must be one of account, organization for linkedin"
    ]
    good = [record("urn-org", kind="organization"), record("urn-me", kind="account")]
    code, out, err = run(capsys, env, "sources", "import", write(tmp_path, good, "good.json"))
    assert code == 0, err
    assert out.strip() == "imported 2 source(s): 2 new, 0 updated"
    kinds = rows(env["DATABASE_URL"], "SELECT account_id, kind FROM sources ORDER BY account_id")
    assert [tuple(row) for row in kinds] == [("urn-me", "account"), ("urn-org", "organization")]


def test_file_must_hold_an_array(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, env, "sources", "import", write(tmp_path, record()))
    assert code == 1
    assert "the file must hold a JSON array of records" in err
    assert "Traceback" not in err


def test_not_json_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "sources.csv"
    path.write_text("network,account_id\nlinkedin,urn-acme\n")
    code, out, err = run(capsys, env, "sources", "import", str(path))
    assert code == 1
    assert out == ""
    assert_one_line_error(err, str(path), "not valid JSON", "line 1")


def test_binary_file_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "logo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    code, out, err = run(capsys, env, "sources", "import", str(path))
    assert code == 1
    assert out == ""
    assert_one_line_error(err, str(path))


def test_missing_file_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "nowhere.json"
    code, out, err = run(capsys, env, "sources", "import", str(path))
    assert code == 1
    assert out == ""
    assert_one_line_error(err, "cannot read", str(path), "No such file")


def test_tokens_are_never_stored_in_plaintext(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    records = [record(access_token=ACCESS, refresh_token=REFRESH)]
    code, out, err = run(capsys, env, "sources", "import", write(tmp_path, records))
    assert code == 0, err
    assert ACCESS not in out + err and REFRESH not in out + err

    (credential,) = rows(env["DATABASE_URL"], "SELECT * FROM credentials")
    stored = json.dumps([str(value) for value in credential])
    assert ACCESS not in stored and REFRESH not in stored
    assert cipher(env).decrypt(credential.access_token.encode()).decode() == ACCESS

    code, out, _ = run(capsys, env, "sources", "list", "--json")
    assert ACCESS not in out and REFRESH not in out

    if env["DATABASE_URL"].startswith("sqlite"):
        db_files = list(tmp_path.glob("bot.db*"))  # the database, its WAL and the dev key
        assert db_files
        for path in db_files:
            raw = path.read_bytes()
            assert ACCESS.encode() not in raw, path
            assert REFRESH.encode() not in raw, path


def test_dev_key_file_is_created_beside_sqlite_and_reused(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    if "TOKEN_ENCRYPTION_KEY" in env:
        pytest.skip("the dev key file is only used with a SQLite database")
    assert run(capsys, env, "sources", "list")[0] == 0
    key_file = tmp_path / "bot.db.key"
    key = key_file.read_text()
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert run(capsys, env, "sources", "list")[0] == 0
    assert key_file.read_text() == key


def test_import_without_workspace_learns_it_from_slack(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    with running_slack() as slack:
        slack_env = with_slack(env, slack)
        for name in ("first.json", "second.json"):
            path = write(tmp_path, [record(workspace=None)], name)
            code, _, err = run(capsys, slack_env, "sources", "import", path)
            assert code == 0, err
        assert len(slack.calls_to("auth.test")) == 1  # the workspace is known after the first
    (source,) = listed(capsys, env)
    assert source["workspace"] == slack.team_id


def test_import_without_workspace_or_bot_token_is_refused(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    code, out, err = run(
        capsys, env, "sources", "import", write(tmp_path, [record(workspace=None)])
    )
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    assert "SLACK_BOT_TOKEN" in err and "workspace" in err
    assert listed(capsys, env) == []


def test_import_without_workspace_when_slack_refuses_the_token(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    with running_slack() as slack:
        revoked = with_slack(env, slack, SLACK_BOT_TOKEN="xoxb-revoked-token")
        slack.fail("auth.test", error="invalid_auth", status=200, retry_after=None)
        path = write(tmp_path, [record(workspace=None)])
        code, _, err = run(capsys, revoked, "sources", "import", path)
    assert code == 1
    assert "Traceback" not in err
    assert "invalid_auth" in err
    assert "xoxb-revoked-token" not in err
    assert listed(capsys, env) == []


def test_import_without_workspace_when_slack_is_unreachable(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    no_slack = {**env, "SLACK_BOT_TOKEN": "xoxb-test-token"}  # SLACK_API_URL is NO_SLACK
    path = write(tmp_path, [record(workspace=None)])
    code, _, err = run(capsys, no_slack, "sources", "import", path)
    assert code == 1
    assert_one_line_error(err, "cannot learn the workspace from Slack", NO_SLACK)
    assert "xoxb-test-token" not in err
    assert listed(capsys, env) == []


def test_import_reads_utf8_names(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "sources.json"
    path.write_bytes(json.dumps([record(name="Café Zoë — Łódź")], ensure_ascii=False).encode())
    code, _, err = run(capsys, env, "sources", "import", str(path))
    assert code == 0, err
    (source,) = listed(capsys, env)
    assert source["name"] == "Café Zoë — Łódź"


# scan ----------------------------------------------------------------------------------------


def three_sources() -> list[dict[str, Any]]:
    return [
        record("urn-dead", "Dead Page", expires_at=(NOW - timedelta(days=2)).isoformat()),
        record("urn-soon", "Soon Page", expires_at=(NOW + timedelta(days=3)).isoformat()),
        record("urn-fine", "Fine Page", expires_at=(NOW + timedelta(days=40)).isoformat()),
    ]


def test_scan_marks_expired_and_posts_nothing_without_a_channel(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    assert run(capsys, env, "sources", "import", write(tmp_path, three_sources()))[0] == 0

    code, out, err = run(capsys, env, "scan")
    assert code == 1  # the notice had nowhere to go
    assert err.strip().splitlines() == [
        "sources-bot: no channel for notices: pick one on the App Home or set SLACK_NOTIFY_CHANNEL"
    ]
    assert out.splitlines() == [
        "checked: 3 source(s)",
        "renewed: 0",
        "expired: 1 (LinkedIn · Dead Page)",
        "expiring soon: 1",
        "notices: 0",
        "warnings: 0",
        "transient failures: 0",
        "internal errors: 0",
        "delivered: 0",
    ]

    by_account = {s["account_id"]: s for s in listed(capsys, env)}
    dead = by_account["urn-dead"]
    assert dead["status"] == "expired"
    assert dead["last_error"]["kind"] == "expired"
    assert dead["last_error"]["reason"].startswith("LinkedIn connection expired on ")
    assert by_account["urn-soon"]["status"] == "expiring"
    assert by_account["urn-fine"]["status"] == "active"
    assert rows(env["DATABASE_URL"], "SELECT id FROM notices") == []


def test_scan_posts_one_notice_however_often_it_runs(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    assert run(capsys, env, "sources", "import", write(tmp_path, three_sources()))[0] == 0
    with running_slack() as slack:
        slack_env = with_slack(env, slack, SLACK_NOTIFY_CHANNEL=CHANNEL)
        code, out, err = run(capsys, slack_env, "scan")
        assert code == 0, err
        assert "notices: 1" in out.splitlines()
        assert "delivered: 2" in out.splitlines()  # the notice and the early warning

        code, out, err = run(capsys, slack_env, "scan")
        assert code == 0, err
        assert "notices: 0" in out.splitlines()
        assert "expired: 0" in out.splitlines()
        assert "delivered: 0" in out.splitlines()

        posts = slack.calls_to("chat.postMessage")
        (notice,) = [c for c in posts if "reconnecting" in c.args["text"]]
        (warning,) = [c for c in posts if c is not notice]
    assert notice.args["channel"] == CHANNEL
    assert "Dead Page" in json.dumps(notice.args["blocks"])
    assert "Fine Page" not in json.dumps(notice.args["blocks"])
    assert "expires soon" in warning.args["text"]  # the early warning for Soon Page
    assert "Soon Page" in json.dumps(warning.args["blocks"])


# digest --------------------------------------------------------------------------------------


def test_digest_dry_run_prints_one_line_per_workspace_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    records = [*three_sources(), record("urn-other", "Other Team Page", workspace="T0002")]
    assert run(capsys, env, "sources", "import", write(tmp_path, records))[0] == 0

    with running_slack() as slack:
        slack_env = with_slack(env, slack, SLACK_NOTIFY_CHANNEL=CHANNEL)
        code, out, err = run(capsys, slack_env, "digest", "--dry-run")
        assert code == 0, err
        assert slack.calls == []

    lines = out.strip().splitlines()
    assert len(lines) == 2
    payloads = [json.loads(line) for line in lines]
    for payload in payloads:
        assert set(payload) == {"workspace", "channel", "text", "blocks"}
        assert payload["channel"] == CHANNEL
        assert isinstance(payload["text"], str) and payload["text"]
        assert isinstance(payload["blocks"], list) and payload["blocks"]
    assert [p["workspace"] for p in payloads] == [TEAM, "T0002"]
    assert "Dead Page" in json.dumps(payloads[0]["blocks"])
    assert "Dead Page" not in json.dumps(payloads[1]["blocks"])

    assert rows(env["DATABASE_URL"], "SELECT id FROM digest_runs") == []


def test_digest_dry_run_without_a_channel(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    assert run(capsys, env, "sources", "import", write(tmp_path, [record()]))[0] == 0
    code, out, err = run(capsys, env, "digest", "--dry-run")
    assert code == 0, err
    (payload,) = (json.loads(line) for line in out.strip().splitlines())
    assert payload["workspace"] == TEAM
    assert payload["channel"] is None


def test_digest_posts_once_a_day(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    assert run(capsys, env, "sources", "import", write(tmp_path, three_sources()))[0] == 0
    with running_slack() as slack:
        slack_env = with_slack(env, slack, SLACK_NOTIFY_CHANNEL=CHANNEL)
        code, out, err = run(capsys, slack_env, "digest")
        assert code == 0, err
        assert out.startswith("digests: 1 ") and "delivered: 1" in out
        code, out, err = run(capsys, slack_env, "digest")
        assert code == 0, err
        assert out.startswith("digests: 0 ") and "delivered: 0" in out
        (posted,) = slack.calls_to("chat.postMessage")
    assert posted.args["channel"] == CHANNEL
    (run_row,) = rows(env["DATABASE_URL"], "SELECT workspace_id, ts FROM digest_runs")
    assert run_row.workspace_id == TEAM
    assert run_row.ts == posted.response["ts"]


# configuration errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "argv"),
    [
        ("DIGEST_HOUR", "25", ["db", "upgrade"]),
        ("DIGEST_HOUR", "nine", ["scan"]),
        ("DIGEST_TIMEZONE", "Mars/Olympus_Mons", ["digest", "--dry-run"]),
        ("EXPIRY_WARNING_DAYS", "7,0", ["scan"]),
        ("PORT", "http", ["sources", "list"]),
        ("DIGEST_ALWAYS_POST", "sometimes", ["digest"]),
        ("DATABASE_URL", "mysql://localhost/bot", ["db", "upgrade"]),
    ],
)
def test_config_errors_exit_2_naming_the_variable(
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    name: str,
    value: str,
    argv: list[str],
) -> None:
    code, out, err = run(capsys, {**env, name: value}, *argv)
    assert code == 2
    assert out == ""
    assert_one_line_error(err, "configuration error", name)


@pytest.mark.parametrize(
    "key",
    [
        "not-a-key-but-a-secret-1234",
        f"{Fernet.generate_key().decode()},not-a-key-but-a-secret-1234",
    ],
)
def test_bad_encryption_key_exits_2_without_echoing_it(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    env: dict[str, str],
    key: str,
) -> None:
    code, out, err = run(capsys, {**env, "TOKEN_ENCRYPTION_KEY": key}, "sources", "list")
    assert code == 2
    assert out == ""
    assert_one_line_error(err, "configuration error", "TOKEN_ENCRYPTION_KEY")
    for part in key.split(","):
        assert part not in err
        assert part not in caplog.text


def test_postgresql_needs_an_encryption_key(
    capsys: pytest.CaptureFixture[str], env: dict[str, str]
) -> None:
    if env["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("SQLite falls back to the dev key file")
    without_key = {k: v for k, v in env.items() if k != "TOKEN_ENCRYPTION_KEY"}
    code, _, err = run(capsys, without_key, "scan")
    assert code == 2
    assert_one_line_error(err, "TOKEN_ENCRYPTION_KEY")


def test_serve_without_slack_credentials_exits_2(
    capsys: pytest.CaptureFixture[str], env: dict[str, str]
) -> None:
    code, _, err = run(capsys, env, "serve", "--no-scheduler")
    assert code == 2
    assert_one_line_error(err, "SLACK_SIGNING_SECRET")


def test_environment_is_only_read_from_the_mapping_given(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(os.environ, "DIGEST_HOUR", "99")
    code, out, _ = run(capsys, env, "db", "upgrade")
    assert code == 0
    assert out.strip() == "database is up to date"


# what an operator types ----------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"], {})
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == "sources-bot 0.1.0"


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_serve_port_out_of_range_exits_2(capsys: pytest.CaptureFixture[str], port: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--port", port], {})
    assert exit_.value.code == 2
    assert "must be a port number from 1 to 65535" in capsys.readouterr().err


def test_a_missing_database_is_named_in_one_line(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    if env["DATABASE_URL"].startswith("sqlite"):
        missing = f"sqlite:///{tmp_path}/no/such/dir/bot.db"
        cause = f"the directory {tmp_path}/no/such/dir does not exist"
    else:
        missing = env["DATABASE_URL"].rsplit("/", 1)[0] + "/no_such_database_x"
        cause = 'database "no_such_database_x" does not exist'
    code, out, err = run(capsys, {**env, "DATABASE_URL": missing}, "sources", "list")
    assert code == 1
    assert out == ""
    assert_one_line_error(err, "cannot open the database", cause)


def test_the_development_key_and_database_are_shown_by_absolute_path(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, _ = run(
        capsys, {"DATABASE_URL": "sqlite:///./dev.db", "SLACK_API_URL": NO_SLACK}, "db", "upgrade"
    )
    assert code == 0
    code, _, _ = run(
        capsys, {"DATABASE_URL": "sqlite:///./dev.db", "SLACK_API_URL": NO_SLACK}, "sources", "list"
    )
    assert code == 0
    assert str(tmp_path / "dev.db.key") in caplog.text
    assert f"beside the database {tmp_path / 'dev.db'}" in caplog.text


def test_scan_exits_1_when_slack_refuses_the_token(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    assert run(capsys, env, "sources", "import", write(tmp_path, [record()]))[0] == 0
    with running_slack() as slack:
        slack.fail("auth.test", error="token_revoked", status=200, retry_after=None)
        code, out, err = run(capsys, with_slack(env, slack, SLACK_NOTIFY_CHANNEL=CHANNEL), "scan")
    assert code == 1
    assert "checked: 1 source(s)" in out  # the scan itself ran
    assert err.strip().splitlines() == [
        "sources-bot: Slack refused the bot token (token_revoked): check SLACK_BOT_TOKEN"
    ]


def test_scan_exits_0_when_slack_is_unreachable_and_says_the_next_run_posts(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    assert run(capsys, env, "sources", "import", write(tmp_path, three_sources()))[0] == 0
    unreachable = {**env, "SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_NOTIFY_CHANNEL": CHANNEL}
    code, out, err = run(capsys, unreachable, "scan")
    assert code == 0
    assert "notices: 1" in out.splitlines()
    assert "delivered: 0; 2 queued for retry by `serve`" in out.splitlines()
    assert "stays queued" in err


def test_digest_exits_1_without_a_channel_unless_the_day_is_quiet(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    assert run(capsys, env, "sources", "import", write(tmp_path, [record()]))[0] == 0
    with running_slack() as slack:
        quiet = with_slack(env, slack)
        code, out, err = run(capsys, quiet, "digest")
        assert (code, err) == (0, "")  # all is well: nothing would be posted anyway

        assert (
            run(capsys, env, "sources", "import", write(tmp_path, three_sources(), "b.json"))[0]
            == 0
        )
        code, out, err = run(capsys, quiet, "digest")
        assert code == 1
        assert out.startswith("digests: 0 ")
        assert err.strip() == (
            "sources-bot: no channel for notices: pick one on the App Home or set "
            "SLACK_NOTIFY_CHANNEL"
        )
        assert slack.calls_to("chat.postMessage") == []


def test_import_refuses_tokens_over_16_kb_and_non_string_dates_by_record(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    bad = [
        record("urn-ok"),
        record("urn-big", access_token="A" * (16 * 1024 + 1)),
        record("urn-date", expires_at=1767225600),
        record("urn-big-refresh", refresh_token="R" * (16 * 1024 + 1)),
        record("urn-edge", access_token="A" * (16 * 1024)),
    ]
    code, _, err = run(capsys, env, "sources", "import", write(tmp_path, bad))
    assert code == 1
    assert err.splitlines() == [
        "record 2: access_token: longer than 16 KB; is it really a token?",
        "record 3: expires_at: must be an ISO 8601 string",
        "record 4: refresh_token: longer than 16 KB; is it really a token?",
        "nothing was imported",
    ]
    assert "AAAA" not in err
    assert listed(capsys, env) == []


def test_reimporting_the_same_token_adds_no_history(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    same = [record(access_token=ACCESS, refresh_token=REFRESH, scopes=["openid"])]
    for name in ("first.json", "again.json"):
        code, out, err = run(capsys, env, "sources", "import", write(tmp_path, same, name))
        assert code == 0, err
    assert out.strip() == "imported 1 source(s): 0 new, 1 updated"
    assert len(rows(env["DATABASE_URL"], "SELECT id FROM credentials")) == 1

    changed = [record(access_token="a-new-access-token", refresh_token=REFRESH, scopes=["openid"])]
    assert run(capsys, env, "sources", "import", write(tmp_path, changed, "new.json"))[0] == 0
    assert len(rows(env["DATABASE_URL"], "SELECT id FROM credentials")) == 2


def test_a_long_import_shows_its_progress_on_stderr(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    many = [record(f"urn-{n}", f"Page {n}", workspace=f"T{n % 7}") for n in range(2500)]
    code, out, err = run(capsys, env, "sources", "import", write(tmp_path, many))
    assert code == 0, err
    assert out.strip() == "imported 2500 source(s): 2500 new, 0 updated"
    progress = err.splitlines()
    assert progress[0] == "importing: all 2500 records are valid"
    assert progress[-1] == "importing: 2500/2500 records written"
    assert len(progress) >= 3
    assert len(listed(capsys, env)) == 2500

    few = [record("urn-1", "Page 1", workspace="T1")]
    code, _, err = run(capsys, env, "sources", "import", write(tmp_path, few, "few.json"))
    assert (code, err) == (0, "")
