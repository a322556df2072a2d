"""Helpers shared by the API and webhook tests: sources, keys and events of two workspaces."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conftest import TEAM, Harness

from bot.services.events import EventType
from bot.services.importer import import_records, parse_records
from bot.services.sources import source_json

OTHER_TEAM = "T0OTHER"


async def add_sources(h: Harness, *specs: dict[str, Any], team: str = TEAM) -> list[int]:
    """Import LinkedIn sources (``account_id``, ``name``, ``expires_in`` days) into ``team``;
    return their ids in the order given."""
    now = h.clock.now()
    records = [
        {
            "network": spec.get("network", "linkedin"),
            "account_id": spec["account_id"],
            "name": spec.get("name", spec["account_id"]),
            "access_token": f"secret-token-of-{spec['account_id']}",
            "expires_at": (now + timedelta(days=spec.get("expires_in", 30))).isoformat(),
            "workspace": team,
        }
        for spec in specs
    ]
    await import_records(
        h.services.ctx, h.services.workspaces, parse_records(records, h.services.ctx.catalogue)
    )
    listed = {s.account_id: s.id for s in await h.services.sources.list(team)}
    return [listed[spec["account_id"]] for spec in specs]


async def new_key(h: Harness, team: str = TEAM, name: str = "platform") -> str:
    await h.services.workspaces.ensure(team)
    created = await h.services.api_keys.create(team, name)
    key: str = created.key
    return key


async def append_event(
    h: Harness,
    type: EventType,
    source_id: int | None,
    payload: dict[str, Any] | None = None,
    team: str = TEAM,
    actor: str = "scan",
) -> str:
    """Append an event as a service does, in its own transaction; return its id."""
    source = await h.services.sources.get(team, source_id) if source_id is not None else None
    async with h.services.ctx.db.begin() as session:
        event = await h.services.ctx.events.append(
            session,
            type=type,
            workspace_id=team,
            source_id=source_id,
            source_json=source_json(source) if source else None,
            actor=actor,
            payload=payload or {},
            now=h.clock.now(),
        )
    event_id: str = event.id
    return event_id
