"""Pacing: sending no faster than the other side takes, so rows are delivered at its rate
instead of being refused and retried.

Two limits, as Slack sets them (SLACK.md):

- a *lane* (a channel) takes one message per interval (Slack: about one per second per
  channel). The dispatcher claims at most one row per lane at a time and spaces the sends of a
  lane by the interval, in this process: that is real time, not the bot's clock.
- a *gate* (a token's method, for Slack) is closed by a refusal with Retry-After: every row
  behind it, not only the refused one, waits until then. That wait is kept in the database
  (the rows' ``next_attempt_at``), so other replicas and a restarted process keep it too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Pacer:
    """Spacing of sends per lane, in this process (``clock``: seconds, monotonic).

    A lane counts as free ``lookahead`` seconds before its turn: its next row is claimed
    meanwhile and waits in :meth:`turn`, so claiming does not delay the send.
    """

    def __init__(
        self,
        interval: float,
        lookahead: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.lookahead = min(lookahead, interval)
        self._clock = clock
        self._last: dict[str, float] = {}  # lane -> when its latest send started
        self._claimed: dict[str, int] = {}  # lane -> rows of it claimed and not yet sent

    def free(self, lane: str) -> bool:
        """Nothing of ``lane`` is claimed, and its turn comes within the lookahead."""
        return not self._claimed.get(lane) and self.wait(lane) <= self.lookahead

    def wait(self, lane: str) -> float:
        """Seconds until ``lane`` may send again."""
        last = self._last.get(lane)
        return 0.0 if last is None else last + self.interval - self._clock()

    def hold(self, lane: str) -> None:
        """A row of ``lane`` was claimed: no other is until it has been sent."""
        self._claimed[lane] = self._claimed.get(lane, 0) + 1

    async def turn(self, lane: str) -> None:
        """Wait for ``lane``'s turn, then count this send as its latest."""
        delay = self.wait(lane)
        if delay > 0:
            await asyncio.sleep(delay)
        self._last[lane] = self._clock()

    def done(self, lane: str) -> None:
        """The claimed row of ``lane`` was sent, or given back."""
        left = self._claimed.get(lane, 0) - 1
        if left > 0:
            self._claimed[lane] = left
        else:
            self._claimed.pop(lane, None)

    def next_opening(self) -> float | None:
        """Seconds until the first busy lane frees up; None when none is busy."""
        now = self._clock()
        waits = [
            last + self.interval - self.lookahead - now
            for lane, last in self._last.items()
            if last + self.interval - self.lookahead > now and not self._claimed.get(lane)
        ]
        self._forget(now)
        return max(min(waits), 0.0) if waits else None

    def _forget(self, now: float) -> None:
        # Lanes whose interval is long over need no memory: keep the map small.
        if len(self._last) > 1024:
            self._last = {k: v for k, v in self._last.items() if v + self.interval > now}
