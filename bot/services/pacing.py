"""How hard one scan presses each network: a bound on calls in flight, and a pause when asked.

Each network gets at most NETWORK_CONCURRENCY calls in flight (renewals and identity checks
together), so one network's backlog neither floods it nor delays the others, which have their
own bound. A network that answers 429 (:class:`RateLimited`) is paused until its Retry-After
(a minute when it gives none); one that does not answer in time (:class:`TimedOut`) is paused
for the rest of the scan, so a network that hangs costs one timeout per call in flight, not
one per source. While a network is paused it gets nothing new: a call that would wait at most
:data:`MAX_WAIT` waits, a longer one is refused with :class:`Paused` and left for the next scan.

Pauses are real time (the network's, not the bot's clock), and last as long as the scan that
saw them: the next scan asks again.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.oauth.errors import RateLimited, TimedOut

MAX_WAIT = 10.0  # seconds a call may wait for a pause to end
DEFAULT_PAUSE = 60.0  # after a 429 without Retry-After


class Paused(Exception):
    """The network asked for a pause that outlasts what a call may wait; not tried now."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NetworkPacer:
    """Per-network limits for one scan. See the module docstring."""

    def __init__(self, concurrency: int, max_wait: float = MAX_WAIT) -> None:
        if concurrency < 1:
            raise ValueError("a network needs room for one call at least")
        self.concurrency = concurrency
        self.max_wait = max_wait
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._paused: dict[str, tuple[float, str]] = {}  # network -> (until, loop time; why)
        self._stopped: str | None = None
        # Tasks whose call was cancelled midway: whether it reached the network is unknown.
        self.on_the_wire: set[asyncio.Task[Any]] = set()

    @asynccontextmanager
    async def call(self, network: str) -> AsyncIterator[None]:
        """Hold one of ``network``'s slots for a call; learn from how the call fails."""
        await self._wait_out_pause(network)
        slots = self._slots.setdefault(network, asyncio.Semaphore(self.concurrency))
        async with slots:
            await self._wait_out_pause(network)  # a pause may have begun while we queued
            task = asyncio.current_task()
            assert task is not None
            self.on_the_wire.add(task)
            try:
                yield
            except asyncio.CancelledError:
                raise
            except RateLimited as err:
                self.on_the_wire.discard(task)
                seconds = err.retry_after if err.retry_after is not None else DEFAULT_PAUSE
                self.pause(network, seconds, err.reason)
                raise
            except TimedOut as err:
                self.on_the_wire.discard(task)
                self.pause(network, math.inf, err.reason)
                raise
            except BaseException:
                self.on_the_wire.discard(task)
                raise
            self.on_the_wire.discard(task)

    def stop(self, reason: str) -> None:
        """Start no more calls (shutdown): those waiting are refused with :class:`Paused`."""
        self._stopped = reason

    def pause(self, network: str, seconds: float, reason: str) -> None:
        until = asyncio.get_running_loop().time() + seconds
        current = self._paused.get(network)
        if current is None or current[0] < until:
            self._paused[network] = (until, reason)

    def paused(self, network: str) -> str | None:
        """Why ``network`` is paused now, or None."""
        pause = self._paused.get(network)
        if pause is None or pause[0] <= asyncio.get_running_loop().time():
            return None
        return pause[1]

    async def _wait_out_pause(self, network: str) -> None:
        if self._stopped is not None:
            raise Paused(self._stopped)
        while (pause := self._paused.get(network)) is not None:
            left = pause[0] - asyncio.get_running_loop().time()
            if left <= 0:
                return
            if left > self.max_wait:
                raise Paused(pause[1])
            await asyncio.sleep(left)
            if self._stopped is not None:
                raise Paused(self._stopped)
