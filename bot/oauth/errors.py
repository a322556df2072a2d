"""Failures when talking to a network, by what they mean for a source.

    NetworkError
    ├── TransientError      timeout, connection error, 5xx, 429, anything unrecognised:
    │   │                   says nothing about the token; try again later
    │   ├── RateLimited     429: the network asks for fewer requests (``retry_after``)
    │   └── TimedOut        no answer within the timeout
    └── CredentialRejected  invalid_grant, Graph code 190, 401 from the identity endpoint:
                            a person must reconnect (``revoked`` when access was removed)

The two kinds of TransientError are about the network rather than one token: a scan stops
sending to a network that answers them for a while (:mod:`bot.services.pacing`).

:func:`check_response` is the one place that reads a network's answer and decides which.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2


class NetworkError(Exception):
    """A network call failed; ``reason`` is plain words, safe for Slack and logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientError(NetworkError):
    """Try again later; keep the source's status."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class RateLimited(TransientError):
    """The network answered 429: slow down (for ``retry_after`` seconds when it said)."""


class TimedOut(TransientError):
    """The network did not answer in time."""


class CredentialRejected(NetworkError):
    """The network refused the token or grant for good."""

    def __init__(self, reason: str, revoked: bool = False) -> None:
        super().__init__(reason)
        self.revoked = revoked


# Graph API (Facebook, Instagram) OAuthException code 190 subcodes: (revoked?, plain words).
GRAPH_SUBCODES: dict[int, tuple[bool, str]] = {
    458: (True, "the app was removed from the account"),
    459: (False, "the account must pass a security checkpoint first"),
    460: (True, "the password was changed"),
    463: (False, "the connection expired"),
    464: (False, "the account is not confirmed"),
    467: (False, "the person logged out or the session ended"),
}
# Pinterest's own error codes that mean the token or grant is dead.
PINTEREST_FINAL_CODES = {2: "authentication failed", 283: "the authorization grant is invalid"}
# Graph error codes that mean "busy, try later" rather than "bad token"; of those, the ones
# that are rate limits (application, user, page and custom-level throttling).
GRAPH_TRANSIENT_CODES = {1, 2, 4, 17, 32, 341, 613}
GRAPH_RATE_LIMIT_CODES = {4, 17, 32, 613}


def check_response(title: str, response: httpx2.Response) -> None:
    """Raise the failure kind that ``response`` means; return quietly when it succeeded."""
    status = response.status_code
    body = _json(response)
    if status == 429:
        raise RateLimited(f"{title} asked us to slow down", _retry_after(response))
    if status >= 500:
        raise TransientError(f"{title} is not answering (HTTP {status})", _retry_after(response))
    if 200 <= status < 300 and not _error_in_success(body):
        return
    _raise_for_body(title, status, body)


def _raise_for_body(title: str, status: int, body: Any) -> None:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and "code" in error:
        code = error.get("code")
        if code == 190:  # Graph: the token is invalid
            revoked, words = GRAPH_SUBCODES.get(
                int(error.get("error_subcode") or 0), (False, "the connection is no longer valid")
            )
            raise CredentialRejected(f"{title}: {words}", revoked=revoked)
        if code in GRAPH_RATE_LIMIT_CODES:
            raise RateLimited(f"{title} is busy (code {code})")
        if code in GRAPH_TRANSIENT_CODES:
            raise TransientError(f"{title} is busy (code {code})")
        if code == "access_token_invalid":  # TikTok
            raise CredentialRejected(f"{title}: the connection is no longer valid")
        if isinstance(code, int) and code == 401:  # Google APIs
            raise CredentialRejected(f"{title} rejected the connection")
    if isinstance(error, str):
        description = str(body.get("error_description", "")).lower()
        if error == "invalid_grant":
            raise CredentialRejected(f"{title}: the saved authorization was expired or revoked")
        if error == "invalid_request" and "token" in description and "invalid" in description:
            raise CredentialRejected(f"{title}: the saved authorization is no longer valid")  # X
        if error in {"invalid_client", "unauthorized_client"}:
            raise TransientError(
                f"{title} refused the bot's app credentials; check its client id and secret"
            )
        if error == "access_denied":
            raise CredentialRejected(f"{title}: access was removed", revoked=True)
    if isinstance(body, dict) and body.get("code") in PINTEREST_FINAL_CODES:
        raise CredentialRejected(f"{title}: {PINTEREST_FINAL_CODES[body['code']]}")
    if status == 401:
        raise CredentialRejected(f"{title} rejected the connection")
    if status == 403:  # the token works but lacks a permission (a scope or an API product)
        raise TransientError(f"{title} refused the request: the app may lack a permission")
    raise TransientError(f"{title} answered HTTP {status} unexpectedly")


def _error_in_success(body: Any) -> bool:
    """Some networks (TikTok) answer OAuth errors with HTTP 200."""
    if not isinstance(body, dict):
        return False
    error = body.get("error")
    if isinstance(error, str):
        return "access_token" not in body
    if isinstance(error, dict):
        return error.get("code") not in (None, "ok", 0)
    return False


def _json(response: httpx2.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None


def _retry_after(response: httpx2.Response) -> float | None:
    """Retry-After in seconds, given as seconds or as an HTTP date."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
