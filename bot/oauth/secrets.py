"""Pure pieces of a connect attempt: random secrets, their hashes, PKCE verifiers."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret() -> str:
    """A URL-safe random string with 256 bits of entropy."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What the database keeps instead of a secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str | None, expected_digest: str | None) -> bool:
    if not secret or not expected_digest:
        return False
    return hmac.compare_digest(digest(secret), expected_digest)


def new_code_verifier() -> str:
    # RFC 7636: 43 to 128 characters; 64 url-safe characters here.
    return secrets.token_urlsafe(48)
