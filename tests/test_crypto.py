"""Tokens at rest (bot/crypto.py): Fernet, key rotation, and the development key file."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.config import ConfigError, Settings
from bot.crypto import TokenCipher, cipher_for

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def test_round_trip_and_ciphertext_hides_the_token() -> None:
    cipher = TokenCipher([NEW_KEY])

    sealed = cipher.encrypt("AQX-secret-access-token")

    assert "AQX-secret-access-token" not in sealed
    assert cipher.decrypt(sealed) == "AQX-secret-access-token"
    assert cipher.encrypt("same") != cipher.encrypt("same")  # fresh IV each time


def test_rotation_reads_old_tokens_and_writes_with_the_new_key() -> None:
    old_token = TokenCipher([OLD_KEY]).encrypt("old token")
    rotated = TokenCipher([NEW_KEY, OLD_KEY])

    assert rotated.decrypt(old_token) == "old token"
    fresh = rotated.encrypt("new token")
    assert TokenCipher([NEW_KEY]).decrypt(fresh) == "new token"
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        TokenCipher([OLD_KEY]).decrypt(fresh)


def test_a_removed_key_is_a_config_error() -> None:
    sealed = TokenCipher([OLD_KEY]).encrypt("token")

    with pytest.raises(ConfigError, match="TOKEN_ENCRYPTION_KEY"):
        TokenCipher([NEW_KEY]).decrypt(sealed)


@pytest.mark.parametrize(
    "bad_key", ["not-a-fernet-key-but-quite-secret", "c2hvcnQ=", NEW_KEY[:-4] + "!!!!"]
)
def test_a_bad_key_is_refused_without_echoing_it(bad_key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        TokenCipher([NEW_KEY, bad_key])

    assert "TOKEN_ENCRYPTION_KEY" in str(caught.value)
    assert bad_key not in str(caught.value)


def test_no_keys_is_refused() -> None:
    with pytest.raises(ConfigError, match="TOKEN_ENCRYPTION_KEY"):
        TokenCipher([])


def test_settings_keys_are_used_newest_first() -> None:
    old_token = TokenCipher([OLD_KEY]).encrypt("t")
    settings = Settings.from_env({"TOKEN_ENCRYPTION_KEY": f"{NEW_KEY}, {OLD_KEY}"})

    cipher = cipher_for(settings)

    assert cipher.decrypt(old_token) == "t"
    assert TokenCipher([NEW_KEY]).decrypt(cipher.encrypt("n")) == "n"


def test_dev_key_file_is_created_beside_sqlite_private_and_reused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "data" / "bot.db"
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{database}"})

    with caplog.at_level(logging.WARNING, logger="bot.crypto"):
        first = cipher_for(settings)

    key_file = tmp_path / "data" / "bot.db.key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    Fernet(key.encode())  # a real Fernet key
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings, "a development key must be announced"
    assert "TOKEN_ENCRYPTION_KEY" in warnings[0].getMessage()
    assert key not in caplog.text

    sealed = first.encrypt("token")
    second = cipher_for(settings)
    assert key_file.read_text().strip() == key
    assert second.decrypt(sealed) == "token"
    assert TokenCipher([key]).decrypt(sealed) == "token"


def test_aiosqlite_urls_get_a_dev_key_too(tmp_path: Path) -> None:
    settings = Settings.from_env({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"})

    cipher_for(settings)

    assert (tmp_path / "b.db.key").is_file()


@pytest.mark.parametrize(
    "url",
    ["postgresql://bot@db/bot", "postgresql+asyncpg://bot@db/bot", "sqlite:///:memory:"],
)
def test_without_a_key_other_databases_are_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="TOKEN_ENCRYPTION_KEY is missing"):
        cipher_for(Settings.from_env({"DATABASE_URL": url}))
