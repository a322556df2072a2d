"""The webhook sender: signed POSTs of event bodies, per the Standard Webhooks specification.

``webhook-id`` is the event's id, the same on every try and on a redelivery, so a receiver
can drop what it already processed; ``webhook-timestamp`` is the time of the try and
``webhook-signature`` is signed with the endpoint's secret by the ``standardwebhooks``
package. What an attempt means for its endpoint (a failing streak, disabling it) is decided
by the :class:`WebhookBook` given to the sender (the webhook service); the sender only
speaks HTTP and records what happened.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx2
from standardwebhooks import Webhook

from bot.clock import Clock
from bot.delivery import outbox
from bot.delivery.dispatcher import DeliveryError, RetrySchedule
from bot.delivery.outbox import Candidate, Claimed
from bot.delivery.pacing import Pacer

log = logging.getLogger(__name__)

# After the first try: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (eight tries over 27.6 hours),
# then the delivery is given up; a receiver that was down for a day still gets it.
WEBHOOK_RETRIES = RetrySchedule(
    delays=[
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=10),
    ],
    give_up_after=timedelta(hours=28),
)
RESPONSE_KEPT = 500  # bytes of each answer kept with its attempt
MAX_RETRY_AFTER = 10 * 3600.0  # a receiver's Retry-After is honoured up to the longest delay
USER_AGENT = "sources-bot-webhooks"


@dataclass(frozen=True)
class Endpoint:
    """Where to deliver and with what to sign; ``stopped`` says why not (disabled, removed)."""

    id: int
    url: str
    secret: str = field(repr=False)
    stopped: str | None = None


@dataclass(frozen=True)
class Attempt:
    """One try: when, what came back (status and the answer's first bytes), how long it took."""

    at: datetime
    duration_ms: int
    status_code: int | None = None
    response: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300

    @property
    def reason(self) -> str:
        if self.error is not None:
            return self.error
        return f"the receiver answered HTTP {self.status_code}"


class WebhookBook(Protocol):
    async def endpoint(self, endpoint_id: int) -> Endpoint | None:
        """The endpoint to deliver to, with its secret in clear; None if it no longer exists."""
        ...

    async def succeeded(self, row: Claimed, attempt: Attempt) -> None:
        """Record the attempt and the delivery, and end the endpoint's failing streak."""
        ...

    async def failed(self, row: Claimed, attempt: Attempt) -> str | None:
        """Record the failed attempt; return why the endpoint is now disabled, if it is."""
        ...


def encode_body(body: dict[str, Any]) -> str:
    """The exact text that is signed and sent (the same on every try)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def signed_headers(secret: str, message_id: str, at: datetime, body: str) -> dict[str, str]:
    """The Standard Webhooks headers for ``body`` sent at ``at``."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }


class WebhookSender:
    kinds = frozenset({outbox.WEBHOOK})
    schedule = WEBHOOK_RETRIES
    pacer: Pacer | None = None  # a receiver's own Retry-After paces it, row by row

    def lane(self, row: Candidate) -> str | None:
        return None

    def __init__(self, book: WebhookBook, clock: Clock, timeout_seconds: float) -> None:
        self.book = book
        self.clock = clock
        self.timeout = timeout_seconds
        # Redirects are not followed: a receiver that moved must be updated by a person.
        self.http = httpx2.AsyncClient(
            timeout=timeout_seconds,
            follow_redirects=False,
            headers={"user-agent": USER_AGENT},
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def deliver(self, row: Claimed) -> None:
        endpoint = await self.book.endpoint(int(row.payload["endpoint_id"]))
        if endpoint is None:
            raise DeliveryError("the webhook endpoint no longer exists", permanent=True)
        if endpoint.stopped is not None:
            raise DeliveryError(endpoint.stopped, permanent=True)
        body = encode_body(row.payload["body"])
        attempt, retry_after = await self._post(endpoint, str(row.payload["event_id"]), body)
        if attempt.ok:
            await self.book.succeeded(row, attempt)
            return
        disabled = await self.book.failed(row, attempt)
        if disabled is not None:
            raise DeliveryError(f"the endpoint was disabled: {disabled}", permanent=True)
        raise DeliveryError(attempt.reason, retry_after=retry_after)

    async def gave_up(self, row: Claimed, error: DeliveryError) -> None:
        log.warning(
            "webhook delivery %s of event %s to endpoint %s given up: %s",
            row.id,
            row.payload.get("event_id"),
            row.payload.get("endpoint_id"),
            error.reason,
        )

    async def _post(
        self, endpoint: Endpoint, message_id: str, body: str
    ) -> tuple[Attempt, float | None]:
        at = self.clock.now()
        headers = {
            "content-type": "application/json",
            **signed_headers(endpoint.secret, message_id, at, body),
        }
        started = time.perf_counter()
        status: int | None = None
        kept = b""
        error: str | None = None
        retry_after: float | None = None
        try:
            # One deadline for the whole try: a receiver that trickles its answer is cut too.
            async with (
                asyncio.timeout(self.timeout),
                self.http.stream("POST", endpoint.url, content=body, headers=headers) as response,
            ):
                status = response.status_code
                retry_after = _retry_after(response)
                async for chunk in response.aiter_bytes():
                    kept += chunk
                    if len(kept) >= RESPONSE_KEPT:
                        break
        except (TimeoutError, httpx2.TimeoutException):
            error = f"no answer within {self.timeout:g} s"
        except httpx2.HTTPError as err:
            # The exception's text may repeat the URL, whose query can hold a secret.
            error = f"could not reach the receiver ({type(err).__name__})"
        duration_ms = round((time.perf_counter() - started) * 1000)
        response_text = kept[:RESPONSE_KEPT].decode("utf-8", errors="replace").replace("\x00", "")
        attempt = Attempt(
            at=at,
            duration_ms=duration_ms,
            status_code=status,
            response=response_text or None,
            error=error,
        )
        return attempt, retry_after


def _retry_after(response: httpx2.Response) -> float | None:
    if response.status_code not in (429, 503):
        return None
    value = response.headers.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER) if seconds == seconds else None
