"""Encryption of tokens at rest with Fernet; several keys (newest first) allow rotation."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.config import ConfigError, Settings

log = logging.getLogger(__name__)

DEV_KEY_FILENAME_SUFFIX = ".key"


class UndecryptableToken(ConfigError):
    """No key of TOKEN_ENCRYPTION_KEY decrypts a stored secret."""


class TokenCipher:
    """Encrypts with the newest key and decrypts with any of them."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConfigError("TOKEN_ENCRYPTION_KEY is empty")
        try:
            self._keys = [Fernet(key.encode()) for key in keys]
            self._fernet = MultiFernet(self._keys)
        except (ValueError, TypeError) as err:
            # The message must not echo the key itself.
            raise ConfigError(
                "TOKEN_ENCRYPTION_KEY must hold Fernet keys (32 url-safe base64-encoded bytes)"
            ) from err

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    @property
    def key_count(self) -> int:
        return len(self._keys)

    def key_index(self, ciphertext: str) -> int | None:
        """Which key (0 is the newest) this was encrypted with; None when no key fits.

        Only the signature is checked, so nothing is decrypted.
        """
        token = ciphertext.encode()
        for index, key in enumerate(self._keys):
            try:
                key.extract_timestamp(token)
            except InvalidToken:
                continue
            return index
        return None

    def rotate(self, ciphertext: str) -> str:
        """The same secret encrypted with the newest key."""
        try:
            return self._fernet.rotate(ciphertext.encode()).decode()
        except InvalidToken as err:
            raise UndecryptableToken("a stored secret cannot be decrypted by any key") from err

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as err:
            raise UndecryptableToken(
                "a stored token cannot be decrypted with TOKEN_ENCRYPTION_KEY (was a key removed?)"
            ) from err


def cipher_for(settings: Settings) -> TokenCipher:
    """The cipher from TOKEN_ENCRYPTION_KEY, or in development a key file beside SQLite."""
    if settings.token_encryption_keys:
        return TokenCipher(list(settings.token_encryption_keys))
    db_path = settings.sqlite_path
    if db_path is None:
        raise ConfigError(
            "TOKEN_ENCRYPTION_KEY is missing; it is required unless the database is a SQLite file"
        )
    return TokenCipher([_dev_key(db_path)])


def _dev_key(db_path: Path) -> str:
    key_path = db_path.with_name(db_path.name + DEV_KEY_FILENAME_SUFFIX)
    if key_path.exists():
        key = key_path.read_text().strip()
    else:
        key_path.parent.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key().decode()
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
    log.warning(
        "TOKEN_ENCRYPTION_KEY is not set: tokens are encrypted with the development key in %s "
        "(beside the database %s); set TOKEN_ENCRYPTION_KEY in production",
        key_path.resolve(),
        db_path.resolve(),
    )
    return key
