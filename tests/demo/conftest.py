"""The demo, served for real on 127.0.0.1 at a free port, for the demo's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.demo.server import Running, bind, running


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Running]:
    with bind(0) as sock:
        async with running(sock, tmp_path) as run:
            yield run
