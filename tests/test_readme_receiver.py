"""The README's webhook receiver works: it accepts what the bot sends and refuses a forgery."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
from api_support import append_event
from conftest import TEAM, Harness

from bot.services.events import EventType

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_receiver() -> str:
    """The README's Python block that defines ``Receiver``."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    (code,) = [block for block in blocks if "class Receiver" in block]
    return str(code)


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    """An HTTP server on 127.0.0.1, in a thread; its handler is set by the test."""
    http = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield http
    http.shutdown()
    http.server_close()


def test_the_readme_receiver_is_15_lines() -> None:
    assert len([line for line in readme_receiver().splitlines() if line.strip()]) <= 15


async def test_the_readme_receiver_accepts_deliveries_and_refuses_forgeries(
    harness: Harness,
    server: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await harness.services.dispatcher.stop()
    await harness.services.workspaces.ensure(TEAM)
    harness.clock.set(datetime.now(UTC))  # the receiver checks timestamps by the wall clock
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    secret = (await harness.services.webhooks.add(TEAM, url)).secret
    monkeypatch.setenv("WEBHOOK_SECRET", secret)
    namespace: dict[str, Any] = {"__name__": "receiver"}
    exec(compile(readme_receiver(), "README.md", "exec"), namespace)  # noqa: S102
    server.RequestHandlerClass = namespace["Receiver"]

    event = await append_event(harness, EventType.EXPIRED, None)
    report = await harness.drain()

    assert report.delivered == 1
    assert f"{event} source.expired None" in capsys.readouterr().out
    async with httpx2.AsyncClient() as client:
        forged = await client.post(
            url,
            content=b'{"type":"source.expired"}',
            headers={
                "webhook-id": event,
                "webhook-timestamp": str(int(datetime.now(UTC).timestamp())),
                "webhook-signature": "v1,bm90IGEgc2lnbmF0dXJl",
            },
        )
    assert forged.status_code == 400
