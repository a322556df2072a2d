"""A bound on the work listeners do after their ack, so a burst queues instead of failing."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

Listener = TypeVar("Listener", bound=Callable[..., Awaitable[Any]])


class WorkLimit:
    """At most ``size`` listeners work at once after their ack; the others wait their turn.

    A listener holds at most one database connection at a time, so with ``size`` equal to the
    pool's a burst of requests waits here, in order, and is answered a little later, instead of
    timing out on the pool and answering "something went wrong". The ack never waits: Slack
    gets it at once, and a response_url stays valid for 30 minutes.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a work limit needs room for one listener at least")
        self.size = size
        self._slots = asyncio.Semaphore(size)
        self._busy = 0  # listeners started and not finished, waiting for a slot or not
        self._idle = asyncio.Event()
        self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:  # noqa: ASYNC109 - a shutdown's grace
        """Wait until no listener is at work (shutdown), for at most ``timeout`` seconds;
        False when some still were."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def _enter(self) -> None:
        self._busy += 1
        self._idle.clear()

    def _leave(self) -> None:
        self._busy -= 1
        if not self._busy:
            self._idle.set()

    def after_ack(self, listener: Listener) -> Listener:
        """``listener`` with everything after its ``await ack()`` inside the limit.

        Bolt reads a listener's parameters to choose what to pass it; ``functools.wraps`` keeps
        them visible (Bolt unwraps). Listeners without ``ack`` (events, which Bolt acks before
        calling them) run inside the limit from their start.
        """

        @functools.wraps(listener)
        async def bounded(**kwargs: Any) -> Any:
            self._enter()
            try:
                return await run(**kwargs)
            finally:
                self._leave()

        async def run(**kwargs: Any) -> Any:
            ack = kwargs.get("ack")
            if ack is None:
                async with self._slots:
                    return await listener(**kwargs)
            held = False

            async def ack_then_wait(*args: Any, **options: Any) -> Any:
                nonlocal held
                acked = await ack(*args, **options)
                if not held:
                    await self._slots.acquire()
                    held = True
                return acked

            try:
                return await listener(**{**kwargs, "ack": ack_then_wait})
            finally:
                if held:
                    self._slots.release()

        return bounded  # type: ignore[return-value]
