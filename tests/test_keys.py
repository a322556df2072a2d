"""TOKEN_ENCRYPTION_KEY against what is stored: `keys check`, `keys rotate`, and the warning at
start when a stored secret cannot be decrypted."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pytest
from conftest import Harness
from cryptography.fernet import Fernet
from test_cli import listed, record, rows, run, write

from bot.cli import main
from bot.crypto import TokenCipher
from bot.services import keys
from bot.services.importer import import_records, parse_records
from bot.store.secrets import ENCRYPTED

OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()
OTHER = Fernet.generate_key().decode()
TOKENS = ["access-one-secret", "access-two-secret", "refresh-two-secret"]


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "TOKEN_ENCRYPTION_KEY": OLD,
    }


def import_two(capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path) -> None:
    records = [
        record("urn-one", "One", access_token=TOKENS[0]),
        record("urn-two", "Two", access_token=TOKENS[1], refresh_token=TOKENS[2]),
    ]
    code, _, err = run(capsys, env, "sources", "import", write(tmp_path, records))
    assert code == 0, err


def stored_under(database_url: str, key: str) -> int:
    """How many stored tokens ``key`` opens, read straight from the database."""
    fernet = Fernet(key.encode())
    opened = 0
    for row in rows(database_url, "SELECT access_token, refresh_token FROM credentials"):
        for value in row:
            if value is None:
                continue
            try:
                fernet.decrypt(value.encode())
            except Exception:  # noqa: S112 - counting, not handling
                continue
            opened += 1
    return opened


def test_the_registry_names_every_encrypted_column() -> None:
    assert {(spec.table, column) for spec in ENCRYPTED for column in spec.columns} == {
        ("credentials", "access_token"),
        ("credentials", "refresh_token"),
        ("connect_attempts", "code_verifier"),
        ("webhook_endpoints", "secret"),
        ("slack_installations", "bot_token"),
        ("slack_installations", "bot_refresh_token"),
        ("slack_installations", "user_token"),
        ("slack_installations", "user_refresh_token"),
        ("slack_bots", "bot_token"),
        ("slack_bots", "bot_refresh_token"),
    }


def test_check_counts_per_key_and_rotate_moves_everything_to_the_first(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], tmp_path: Path
) -> None:
    import_two(capsys, env, tmp_path)
    code, out, _ = run(capsys, env, "keys", "check")
    assert code == 0
    assert out.splitlines() == [
        "first key (newest): decrypts 3 stored secret(s)",
        "no key: 0 stored secret(s)",
    ]

    both = {**env, "TOKEN_ENCRYPTION_KEY": f"{NEW},{OLD}"}
    code, out, _ = run(capsys, both, "keys", "check")
    assert code == 0
    assert out.splitlines()[:3] == [
        "first key (newest): decrypts 0 stored secret(s)",
        "key 2: decrypts 3 stored secret(s)",
        "no key: 0 stored secret(s)",
    ]

    code, out, err = run(capsys, both, "keys", "rotate")
    assert code == 0, err
    assert out.strip() == "re-encrypted 3 stored secret(s) with the first key; 0 already used it"
    assert "checked 3/3 stored secret(s)" in err.splitlines()
    assert stored_under(env["DATABASE_URL"], NEW) == 3

    code, out, _ = run(capsys, both, "keys", "check")
    assert out.splitlines() == [
        "first key (newest): decrypts 3 stored secret(s)",
        "key 2: decrypts 0 stored secret(s)",
        "no key: 0 stored secret(s)",
        "no stored secret needs key(s) 2: they can be removed",
    ]
    code, out, _ = run(capsys, both, "keys", "rotate")  # nothing left to do
    assert out.strip() == "re-encrypted 0 stored secret(s) with the first key; 3 already used it"

    new_only = {**env, "TOKEN_ENCRYPTION_KEY": NEW}
    assert [s["name"] for s in listed(capsys, new_only)] == ["One", "Two"]
    for output in (out, err):
        for secret in (*TOKENS, OLD, NEW):
            assert secret not in output


def test_secrets_no_key_decrypts_are_named_at_start_and_by_the_key_commands(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    import_two(capsys, env, tmp_path)
    wrong = {**env, "TOKEN_ENCRYPTION_KEY": OTHER}

    with caplog.at_level(logging.WARNING):
        code, _, _ = run(capsys, wrong, "sources", "list")
    assert code == 0
    (warning,) = [r.getMessage() for r in caplog.records if "cannot be decrypted" in r.getMessage()]
    assert warning.startswith("3 stored secret(s) cannot be decrypted")
    assert "LinkedIn · One (" in warning and "LinkedIn · Two (" in warning

    code, out, err = run(capsys, wrong, "keys", "check")
    assert code == 1
    assert out.splitlines() == [
        "first key (newest): decrypts 0 stored secret(s)",
        "no key: 3 stored secret(s)",
    ]
    assert "LinkedIn · One" in err

    code, out, err = run(capsys, wrong, "keys", "rotate")
    assert code == 1
    assert "3 stored secret(s) cannot be decrypted by any key" in err
    assert stored_under(env["DATABASE_URL"], OLD) == 3  # left as they were
    for secret in (*TOKENS, OLD, OTHER):
        assert secret not in out + err + caplog.text


def test_serve_names_secrets_no_key_decrypts_before_it_listens(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import_two(capsys, env, tmp_path)
    served: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **options: served.append(options))
    slack = {"SLACK_SIGNING_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb-t"}
    with caplog.at_level(logging.WARNING):
        code = main(["serve", "--no-scheduler"], {**env, **slack, "TOKEN_ENCRYPTION_KEY": OTHER})
    assert code == 0
    assert served and served[0]["port"] == 3000
    assert any("3 stored secret(s) cannot be decrypted" in r.getMessage() for r in caplog.records)


async def test_rotation_stopped_half_way_picks_up_where_it_stopped(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = harness.services.ctx
    records = [
        {
            "network": "linkedin",
            "account_id": f"urn-{n}",
            "name": f"Page {n}",
            "access_token": f"token-{n}",
            "expires_at": "2030-01-01T00:00:00+00:00",
            "workspace": "T0001",
        }
        for n in range(5)
    ]
    await import_records(ctx, harness.services.workspaces, parse_records(records, ctx.catalogue))
    # The same database, now read with a new key in front of the old one.
    old = harness.bot.settings.token_encryption_keys[0]
    rotated_ctx = dataclasses.replace(ctx, cipher=TokenCipher([NEW, old]))
    monkeypatch.setattr(keys, "BATCH", 2)

    class Stop(Exception):
        pass

    def stop_after_first_batch(done: int, total: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        await keys.rotate(rotated_ctx, stop_after_first_batch)
    assert (await keys.check(rotated_ctx)).per_key == [2, 3]

    seen: list[tuple[int, int]] = []
    report = await keys.rotate(rotated_ctx, lambda done, total: seen.append((done, total)))
    assert (report.rotated, report.already_newest) == (3, 2)
    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert (await keys.check(rotated_ctx)).per_key == [5, 0]
