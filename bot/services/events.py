"""The event log: every change in a source's life, appended in the transaction of the change.

Appending an event also queues its webhook deliveries, in the same transaction, so a change,
its event and what it makes the bot send commit together or not at all.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import outbox
from bot.store.models import Event, WebhookEndpoint


class EventType(StrEnum):
    CONNECTED = "source.connected"
    RENEWED = "source.renewed"
    RENEWAL_FAILING = "source.renewal_failing"
    EXPIRING = "source.expiring"
    EXPIRED = "source.expired"
    REVOKED = "source.revoked"
    RESTORED = "source.restored"
    WRONG_ACCOUNT = "source.wrong_account"
    REMOVED = "source.removed"
    CLAIMED = "source.claimed"
    SNOOZED = "source.snoozed"
    ESCALATED = "source.escalated"


EVENT_TYPES = tuple(str(kind) for kind in EventType)
SCAN = "scan"  # the actor of what the bot does by itself
CLI = "cli"  # the actor of what an operator does on the command line


def api_key_actor(name: str) -> str:
    return f"api-key:{name}"


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class EventIds:
    """ULIDs (time, then randomness) that also sort in creation order within one process.

    The time part comes from the bot's clock, so ids follow the controlled clock in tests;
    within one millisecond the random part is incremented instead of drawn again.
    """

    def __init__(self) -> None:
        self._last_ms = -1
        self._last_random = 0

    def new(self, now: datetime) -> str:
        ms = int(now.timestamp() * 1000)
        if ms <= self._last_ms:
            ms = self._last_ms
            self._last_random += 1
        else:
            self._last_random = int.from_bytes(os.urandom(10), "big") >> 1  # room to count up
        self._last_ms = ms
        value = (ms << 80) | self._last_random
        chars = []
        for _ in range(26):
            chars.append(_CROCKFORD[value & 31])
            value >>= 5
        return "evt_" + "".join(reversed(chars))


@dataclass(frozen=True)
class Change:
    """One source's part in a bulk change: where, which, and its API shape after the change
    (a function: built only when a webhook wants it)."""

    workspace_id: str
    source_id: int
    source_json: Callable[[], dict[str, Any] | None]


@dataclass(frozen=True)
class EventInfo:
    id: str
    type: str
    workspace_id: str
    source_id: int | None
    actor: str
    payload: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, event: Event) -> EventInfo:
        return cls(
            id=event.id,
            type=event.type,
            workspace_id=event.workspace_id,
            source_id=event.source_id,
            actor=event.actor,
            payload=dict(event.payload),
            created_at=event.created_at,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "workspace": self.workspace_id,
            "source_id": self.source_id,
            "actor": self.actor,
            "payload": self.payload,
            "created_at": self.created_at.isoformat(),
        }


class EventLog:
    def __init__(self, ids: EventIds | None = None) -> None:
        self.ids = ids or EventIds()

    async def append(
        self,
        session: AsyncSession,
        *,
        type: EventType,
        workspace_id: str,
        source_id: int | None,
        source_json: dict[str, Any] | None,
        actor: str,
        payload: dict[str, Any],
        now: datetime,
    ) -> Event:
        """Add the event and its webhook deliveries to ``session``'s transaction.

        ``source_json`` is the source as the API shows it, after the change; it goes into
        webhook bodies so a receiver need not call back. Neither it nor ``payload`` may hold a
        secret.
        """
        event = Event(
            id=self.ids.new(now),
            type=str(type),
            workspace_id=workspace_id,
            source_id=source_id,
            actor=actor,
            payload=payload,
            created_at=now,
        )
        session.add(event)
        for endpoint in await _subscribed(session, workspace_id, str(type)):
            body = {
                "type": event.type,
                "timestamp": now.isoformat(),
                "data": {"event_id": event.id, "source": source_json, "payload": payload},
            }
            outbox.enqueue(
                session,
                workspace_id=workspace_id,
                kind=outbox.WEBHOOK,
                key=f"webhook:{endpoint.id}:{event.id}",
                order_key=f"webhook:{endpoint.id}:{source_id}",
                target=f"webhook:{endpoint.id}",
                payload={"endpoint_id": endpoint.id, "event_id": event.id, "body": body},
                now=now,
            )
        return event

    async def append_many(
        self,
        session: AsyncSession,
        changes: Sequence[Change],
        *,
        type: EventType,
        actor: str,
        payload: dict[str, Any],
        now: datetime,
    ) -> int:
        """:meth:`append` for many sources at once (one event each, the same ``type``,
        ``actor`` and ``payload``), written with one statement per table: what a bulk change
        (an import) appends. Webhook bodies are built only for workspaces with endpoints that
        want ``type``. Returns how many webhook deliveries were queued."""
        if not changes:
            return 0
        events = [
            {
                "id": self.ids.new(now),
                "type": str(type),
                "workspace_id": change.workspace_id,
                "source_id": change.source_id,
                "actor": actor,
                "payload": payload,
                "created_at": now,
            }
            for change in changes
        ]
        await session.execute(insert(Event), events)
        deliveries = []
        for change, event in zip(changes, events, strict=True):
            for endpoint in await _subscribed(session, change.workspace_id, str(type)):
                body = {
                    "type": str(type),
                    "timestamp": now.isoformat(),
                    "data": {
                        "event_id": event["id"],
                        "source": change.source_json(),
                        "payload": payload,
                    },
                }
                deliveries.append(
                    outbox.row(
                        workspace_id=change.workspace_id,
                        kind=outbox.WEBHOOK,
                        key=f"webhook:{endpoint.id}:{event['id']}",
                        order_key=f"webhook:{endpoint.id}:{change.source_id}",
                        target=f"webhook:{endpoint.id}",
                        payload={
                            "endpoint_id": endpoint.id,
                            "event_id": event["id"],
                            "body": body,
                        },
                        now=now,
                    )
                )
        if deliveries:
            await outbox.enqueue_many(session, deliveries)
        return len(deliveries)

    @staticmethod
    async def feed(
        session: AsyncSession, workspace_id: str, after: str | None, limit: int, until: datetime
    ) -> list[EventInfo]:
        """Events of a workspace after ``after``, oldest first, created no later than ``until``."""
        query = (
            select(Event)
            .where(Event.workspace_id == workspace_id, Event.created_at <= until)
            .order_by(Event.id)
            .limit(limit)
        )
        if after:
            query = query.where(Event.id > after)
        return [EventInfo.of(event) for event in (await session.scalars(query)).all()]

    @staticmethod
    async def of_source(
        session: AsyncSession, source_id: int, limit: int = 50, before: str | None = None
    ) -> Sequence[EventInfo]:
        """A source's events, newest first."""
        query = (
            select(Event).where(Event.source_id == source_id).order_by(Event.id.desc()).limit(limit)
        )
        if before:
            query = query.where(Event.id < before)
        return [EventInfo.of(event) for event in (await session.scalars(query)).all()]

    @staticmethod
    async def forget_before(session: AsyncSession, cutoff: datetime) -> int:
        result = await session.execute(delete(Event).where(Event.created_at < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def _subscribed(
    session: AsyncSession, workspace_id: str, event_type: str
) -> list[WebhookEndpoint]:
    # Cached per transaction: a scan appends many events, endpoints rarely change.
    cache: dict[str, list[WebhookEndpoint]] = session.info.setdefault("webhook_endpoints", {})
    if workspace_id not in cache:
        cache[workspace_id] = list(
            (
                await session.scalars(
                    select(WebhookEndpoint).where(
                        WebhookEndpoint.workspace_id == workspace_id,
                        WebhookEndpoint.disabled_at.is_(None),
                        WebhookEndpoint.removed_at.is_(None),
                    )
                )
            ).all()
        )
    return [
        endpoint
        for endpoint in cache[workspace_id]
        if endpoint.event_types is None or event_type in endpoint.event_types
    ]
