"""What one scan did, for the log, the CLI and the tests: counts, and the first names of each.

A scan of many sources may renew or expire thousands at once; the report names at most
:data:`NAMES_KEPT` per kind (enough for a person to read) and counts the rest.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

NAMES_KEPT = 100  # names a report keeps per list; its counts go on


@dataclass
class ScanReport:
    """What one scan did. The lists name at most :data:`NAMES_KEPT` sources each; ``counts``
    has how many there were."""

    checked: int = 0
    renewed: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    expiring: list[str] = field(default_factory=list)
    transient: list[str] = field(default_factory=list)
    internal: list[str] = field(default_factory=list)  # the bot failed on these; see the log
    no_channel: list[str] = field(default_factory=list)  # workspaces with news and no channel
    notices_queued: int = 0
    warnings_queued: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, name: str) -> None:
        """Count ``name`` under ``kind`` (``renewed``, ``expired``, ...), naming it if there is
        room."""
        self.counts[kind] += 1
        names: list[str] = getattr(self, kind)
        if len(names) < NAMES_KEPT:
            names.append(name)

    def count(self, kind: str) -> int:
        return max(self.counts[kind], len(getattr(self, kind)))

    def summary(self) -> str:
        def named(kind: str, sep: str = ", ") -> str:
            names: list[str] = getattr(self, kind)
            total = self.count(kind)
            if not names:
                return f"{total}"
            more = f"{sep}and {total - len(names)} more" if total > len(names) else ""
            return f"{total} ({sep.join(names)}{more})"

        return "\n".join(
            [
                f"checked: {self.checked} source(s)",
                f"renewed: {named('renewed')}",
                f"expired: {named('expired')}",
                f"expiring soon: {self.count('expiring')}",
                f"notices: {self.notices_queued}",
                f"warnings: {self.warnings_queued}",
                f"transient failures: {named('transient', '; ')}",
                f"internal errors: {named('internal', '; ')}",
            ]
        )
