"""The Socket Mode side of the fake Slack: a websocket on 127.0.0.1 speaking Slack's envelopes.

An app calls ``apps.connections.open`` with its ``xapp-`` token and gets this socket's URL.
On connect the server says ``hello``; then Slack's requests come as envelopes
(``{"envelope_id", "type", "payload", "accepts_response_payload"}``) and the app acks each
one by sending back ``{"envelope_id", "payload"?}``. Tests send envelopes and wait for acks.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

from aiohttp import WSMsgType, web

SLASH_COMMANDS = "slash_commands"
INTERACTIVE = "interactive"
EVENTS_API = "events_api"


class FakeSocketMode:
    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.connections: list[web.WebSocketResponse] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.received: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.connections.append(socket)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self.connections),
                "debug_info": {"host": "fake-slack", "approximate_connection_time": 3600},
                "connection_info": {"app_id": self.app_id},
            }
        )
        await self._notify()
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                data = json.loads(message.data)
                self.received.append(data)
                if "envelope_id" in data:
                    self.acks[data["envelope_id"]] = data
                await self._notify()
        finally:
            self.connections.remove(socket)
            await self._notify()
        return socket

    async def connected(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until an app holds a connection."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: bool(self.connections))

    async def disconnected(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until no app holds a connection."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: not self.connections)

    async def send(
        self, type: str, payload: dict[str, Any], accepts_response_payload: bool = False
    ) -> str:
        """Deliver one envelope to the connected app; returns its envelope_id."""
        if not self.connections:
            raise AssertionError("no app is connected over Socket Mode")
        envelope_id = f"env-{next(self._ids):04d}"
        await self.connections[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": type,
                "payload": payload,
                "accepts_response_payload": accepts_response_payload,
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return envelope_id

    async def ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        """Wait for the app's ack of ``envelope_id``; return it."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: envelope_id in self.acks)
        except TimeoutError:
            raise AssertionError(f"envelope {envelope_id} was not acknowledged") from None
        return self.acks[envelope_id]

    async def close(self) -> None:
        for socket in list(self.connections):
            with contextlib.suppress(Exception):
                await socket.close()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()
