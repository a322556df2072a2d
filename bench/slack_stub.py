"""A Slack Web API stub that enforces Slack's posting limits, for bench_digest.py.

- ``chat.postMessage``: one message per ``interval`` seconds per channel (Slack: "1 per
  second per channel"), with ``tolerance`` for the jitter of a local machine;
- every method: a token bucket per token and method (``rate`` calls per second, as many in a
  burst), modelling the workspace-wide limit above the channels'.

Over a limit it answers HTTP 429 ``{"ok": false, "error": "ratelimited"}`` with Retry-After in
whole seconds (as Slack does), and counts nothing. Accepted messages are recorded with the
time they arrived and the outbox key the bot sends as message metadata, so a run can tell
what was delivered, twice or never.

:func:`ideal_seconds` is what a sender that knows both limits needs for a given set of
messages: the allowed rate, against which a run is measured.
"""

from __future__ import annotations

import heapq
import json
import math
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web


@dataclass
class Accepted:
    at: float
    channel: str
    key: str | None


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class SlackStub:
    rate: float = 50.0  # calls per second per token and method (and the burst)
    interval: float = 1.0  # seconds between two messages to one channel
    tolerance: float = 0.05
    accepted: list[Accepted] = field(default_factory=list)
    refused: int = 0
    first_request: float | None = None
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)
    _channels: dict[tuple[str, str], float] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    url: str = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("POST", "/api/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/api/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def reset(self) -> None:
        self.accepted.clear()
        self.refused = 0
        self.first_request = None
        self._buckets.clear()
        self._channels.clear()

    async def _handle(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        method = request.match_info["method"]
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if method == "auth.test":
            return web.json_response(
                {"ok": True, "team_id": "T0BENCH", "team": "Bench", "user_id": "UBOT"}
            )
        args = await _args(request)
        if self.first_request is None:
            self.first_request = now
        channel = str(args.get("channel", ""))
        wait = self._channel_wait(token, channel, now) if method == "chat.postMessage" else 0
        wait = max(wait, self._method_wait(token, method, now))
        if wait > 0:
            self.refused += 1
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        self._take(token, method, now)
        if method == "chat.postMessage":
            self._channels[(token, channel)] = now
            metadata = args.get("metadata") or {}
            key = (
                metadata.get("event_payload", {}).get("key") if isinstance(metadata, dict) else None
            )
            self.accepted.append(Accepted(now, channel, key))
        return web.json_response({"ok": True, "channel": channel, "ts": f"{now:.6f}"})

    def _channel_wait(self, token: str, channel: str, now: float) -> float:
        last = self._channels.get((token, channel))
        if last is None:
            return 0.0
        wait = last + self.interval - now
        return wait if wait > self.tolerance else 0.0

    def _bucket(self, token: str, method: str, now: float) -> _Bucket:
        bucket = self._buckets.setdefault((token, method), _Bucket(self.rate, now))
        bucket.tokens = min(self.rate, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        return bucket

    def _method_wait(self, token: str, method: str, now: float) -> float:
        bucket = self._bucket(token, method, now)
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate

    def _take(self, token: str, method: str, now: float) -> None:
        self._bucket(token, method, now).tokens -= 1


def ideal_schedule(
    channels: Iterable[str], rate: float, interval: float
) -> list[tuple[float, str]]:
    """When each message goes, at best: each moment, send to the channels that may take one
    (those with the most left first) as far as the method's bucket allows."""
    left = Counter(channels)
    ready: list[tuple[float, int, str]] = [(0.0, -n, c) for c, n in left.items()]
    heapq.heapify(ready)
    tokens, updated, now = rate, 0.0, 0.0
    times: list[tuple[float, str]] = []
    while ready:
        at, _, channel = heapq.heappop(ready)
        now = max(now, at)
        tokens = min(rate, tokens + (now - updated) * rate)
        updated = now
        if tokens < 1:
            now += (1 - tokens) / rate
            tokens, updated = 1.0, now
        tokens -= 1
        times.append((now, channel))
        left[channel] -= 1
        if left[channel]:
            heapq.heappush(ready, (now + interval, -left[channel], channel))
    return times


def ideal_seconds(channels: Iterable[str], rate: float, interval: float) -> float:
    """From the first message to the last, at best (the allowed rate)."""
    schedule = ideal_schedule(channels, rate, interval)
    return schedule[-1][0] if schedule else 0.0


async def _args(request: web.Request) -> dict[str, Any]:
    raw = await request.text()
    if request.content_type == "application/json":
        body = json.loads(raw) if raw else {}
        return body if isinstance(body, dict) else {}
    args: dict[str, Any] = dict(parse_qsl(raw, keep_blank_values=True))
    if isinstance(args.get("metadata"), str):
        args["metadata"] = json.loads(args["metadata"])
    return args
