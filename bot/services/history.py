"""A source's history: its events a page at a time, newest first, and finding the source a
person names (`/sources history <name or id>`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select

from bot.domain import SourceEvent, SourceInfo
from bot.services.context import Context
from bot.services.events import EventInfo, EventLog
from bot.services.sources import LISTED, SourceService, source_info, warning_days
from bot.slack_api import SlackGateway, SlackUnavailable
from bot.status import natural_key
from bot.store.models import Source

log = logging.getLogger(__name__)

PAGE_SIZE = 20
MAX_MATCHES = 20
FALLBACK_ZONE = "UTC"


@dataclass(frozen=True)
class HistoryPage:
    """Events of one source, newest first; ``older``/``newer`` are the cursors of the next
    page each way (None at either end)."""

    source: SourceInfo
    events: Sequence[SourceEvent]
    older: str | None
    newer: str | None


class HistoryService:
    def __init__(self, ctx: Context, sources: SourceService) -> None:
        self.ctx = ctx
        self.sources = sources

    async def page(
        self,
        workspace_id: str,
        source_id: int,
        before: str | None = None,
        after: str | None = None,
    ) -> HistoryPage | None:
        """A page of the source's events; None if the workspace has no such source."""
        source = await self.sources.get(workspace_id, source_id)
        if source is None:
            return None
        async with self.ctx.read() as session:
            found = await EventLog.of_source(session, source_id, PAGE_SIZE + 1, before, after)
        events = list(found)
        if after:  # the page runs back to the present: the newest ones may be cut
            newer_exists = len(events) > PAGE_SIZE
            events = events[-PAGE_SIZE:] if newer_exists else events
            older_exists = True
        else:
            older_exists = len(events) > PAGE_SIZE
            events = events[:PAGE_SIZE]
            newer_exists = before is not None
        return HistoryPage(
            source=source,
            events=[_shown(event) for event in events],
            older=events[-1].id if events and older_exists else None,
            newer=events[0].id if events and newer_exists else None,
        )

    async def find(self, workspace_id: str, query: str) -> list[SourceInfo]:
        """The workspace's sources a person means by ``query``: an id, an exact name (or
        "Network · Name"), else every name containing it, in natural order."""
        text = " ".join(query.replace("·", " ").split())
        if text.lstrip("#").isdecimal():
            found = await self.sources.get(workspace_id, int(text.lstrip("#")))
            return [found] if found is not None else []
        network, name = self._network_prefix(text)
        matches = await self._search(workspace_id, network, name)
        if network is not None and not matches:  # "LinkedIn Weekly" may be a name
            name, matches = text, await self._search(workspace_id, None, text)
        exact = [s for s in matches if s.name.casefold() == name.casefold()]
        return sorted(exact or matches, key=lambda s: (natural_key(s.name), s.network, s.id))

    async def _search(self, workspace_id: str, network: str | None, name: str) -> list[SourceInfo]:
        """Sources whose name contains ``name`` (any case), on ``network`` if given."""
        pattern = "%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = (
            select(*LISTED)
            .where(Source.workspace_id == workspace_id, Source.name.ilike(pattern, escape="\\"))
            .order_by(Source.id)
            .limit(1000)  # a person narrows the name long before this matters
        )
        if network is not None:
            query = query.where(Source.network == network)
        async with self.ctx.read() as session:
            rows = (await session.execute(query)).all()
            days = await warning_days(session, self.ctx, workspace_id)
        now = self.ctx.clock.now()
        return [source_info(self.ctx, row, now, days) for row in rows]

    def _network_prefix(self, text: str) -> tuple[str | None, str]:
        """("linkedin", "Acme") for "LinkedIn Acme"; (None, text) when no network leads."""
        first, _, rest = text.partition(" ")
        network = self.ctx.catalogue.get(first)
        if network is None:
            network = next(
                (n for n in self.ctx.catalogue if n.title.lower() == first.lower()), None
            )
        if network is None or not rest:
            return None, text
        return network.name, rest

    async def zone(self, slack: SlackGateway, user_id: str) -> str:
        """The viewer's time zone as Slack knows it (``users.info``); UTC if Slack does not say."""
        try:
            zone = (await slack.user(user_id)).tz
        except SlackUnavailable as err:
            log.info("no time zone for %s (%s); history in UTC", user_id, err.reason)
            return FALLBACK_ZONE
        return zone if zone and _known_zone(zone) else FALLBACK_ZONE


def _shown(event: EventInfo) -> SourceEvent:
    return SourceEvent(
        id=event.id,
        type=event.type,
        actor=event.actor,
        payload=event.payload,
        at=event.created_at,
    )


def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
