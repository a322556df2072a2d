"""A webhook receiver on 127.0.0.1 that verifies every delivery with ``standardwebhooks``.

It is one endpoint (``url``). Give it the secret ``webhooks add`` printed; it then checks
each request's ``webhook-id``/``webhook-timestamp``/``webhook-signature`` with the library's
``Webhook.verify``. The library checks the timestamp against the wall clock; the bot signs
with the test's clock, so the receiver checks the library's 5-minute tolerance against
``now`` (the test's clock, as the other fakes do) when one is given.

Tell it how to answer the next requests: ``answer(500, times=3)``, ``answer(410)``,
``hang()`` (never answers until the test ends). By default it answers 200. A request that
fails verification is answered 400 and kept in ``violations``; tests assert there are none.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from fakes.server import Handler, LocalServer

TOLERANCE = timedelta(minutes=5)  # the library's, and the specification's


class _ClockedWebhook(Webhook):
    """The library's verification, with the timestamp judged by the test's clock."""

    def __init__(self, secret: str, now: Callable[[], datetime]) -> None:
        super().__init__(secret)
        self._now = now

    # Overrides the library's private Webhook.__verify_timestamp (name-mangled).
    def _Webhook__verify_timestamp(self, timestamp_header: str) -> datetime:
        try:
            timestamp = datetime.fromtimestamp(float(timestamp_header), tz=UTC)
        except ValueError as err:
            raise WebhookVerificationError("Invalid Signature Headers") from err
        now = self._now()
        if timestamp < now - TOLERANCE:
            raise WebhookVerificationError("Message timestamp too old")
        if timestamp > now + TOLERANCE:
            raise WebhookVerificationError("Message timestamp too new")
        return timestamp


@dataclass(frozen=True)
class Received:
    """One request: its headers, its body as sent, and what the receiver answered."""

    webhook_id: str | None
    timestamp: str | None
    signature: str | None
    body: str
    status: int | None  # None: it hung

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class _Answer:
    status: int
    times: int | None  # None: until told otherwise
    body: str
    headers: dict[str, str]


class WebhookReceiver(LocalServer):
    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        super().__init__()
        self.now = now
        self.secret: str | None = None
        self.requests: list[Received] = []
        self.violations: list[str] = []
        self._answers: list[_Answer] = []

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("POST", "/hooks", self._handle)]

    @property
    def url(self) -> str:
        return f"{self.base_url}/hooks"

    # --- test helpers ------------------------------------------------------------------------

    def answer(
        self,
        status: int,
        times: int | None = None,
        body: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests (all, when None) with ``status``; queued in order.
        ``answer(200)`` goes back to normal."""
        if times is None:
            self._answers = [a for a in self._answers if a.times is not None]
        self._answers.append(_Answer(status, times, body, headers or {}))

    def hang(self, times: int | None = None) -> None:
        """Never answer the next ``times`` requests (all, when None); status 0 means hang."""
        self.answer(0, times)

    @property
    def delivered(self) -> list[Received]:
        """Requests that were verified and answered 2xx: what the receiver processed."""
        return [r for r in self.requests if r.status is not None and 200 <= r.status < 300]

    def delivered_ids(self) -> list[str]:
        return [str(r.webhook_id) for r in self.delivered]

    # --- request handling --------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.text()
        headers = dict(request.headers)
        received = {
            "webhook_id": request.headers.get("webhook-id"),
            "timestamp": request.headers.get("webhook-timestamp"),
            "signature": request.headers.get("webhook-signature"),
            "body": body,
        }
        problem = self._verify(body, headers, received["webhook_id"])
        if problem is not None:
            self.violations.append(problem)
            self.requests.append(Received(**received, status=400))
            return web.Response(status=400, text=problem)
        answer = self._next_answer()
        if answer.status == 0:
            self.requests.append(Received(**received, status=None))
            assert self._release is not None
            await self._release.wait()
            return web.Response(status=504)
        self.requests.append(Received(**received, status=answer.status))
        return web.Response(status=answer.status, text=answer.body, headers=answer.headers)

    def _verify(self, body: str, headers: dict[str, str], webhook_id: str | None) -> str | None:
        if self.secret is None:
            return "the receiver was given no secret"
        webhook = (
            Webhook(self.secret) if self.now is None else _ClockedWebhook(self.secret, self.now)
        )
        try:
            data = webhook.verify(body, headers)
        except WebhookVerificationError as err:
            return f"verification failed: {err}"
        if not isinstance(data, dict) or set(data) != {"type", "timestamp", "data"}:
            return f"unexpected body: {body[:200]}"
        if data["data"].get("event_id") != webhook_id:
            return "webhook-id is not the event id"
        return None

    def _next_answer(self) -> _Answer:
        while self._answers:
            answer = self._answers[0]
            if answer.times is None:
                return answer
            if answer.times > 0:
                answer.times -= 1
                if answer.times == 0:
                    self._answers.pop(0)
                return answer
            self._answers.pop(0)
        return _Answer(200, None, "ok", {})
