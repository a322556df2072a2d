"""The demo's clock: real time plus an offset that "Skip ahead" moves forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class OffsetClock:
    """A :class:`bot.clock.Clock` that runs like the system clock, shifted by ``offset``.

    The bot, the sandbox and the demo network share one, so a token issued "today" expires
    60 demo days later for all three.
    """

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("the demo clock only moves forward")
        self.offset += delta
