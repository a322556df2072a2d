"""Failures when talking to a network, by what they mean for a source.

NetworkError
├── TransientError      timeout, connection error, 5xx, 429: says nothing about the token
└── CredentialRejected  invalid_grant, 401 from the identity endpoint: a person must reconnect
"""

from __future__ import annotations


class NetworkError(Exception):
    """A network call failed; ``reason`` is plain words, safe for Slack and logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientError(NetworkError):
    """Try again later; keep the source's status."""


class CredentialRejected(NetworkError):
    """The network refused the token or grant for good."""
