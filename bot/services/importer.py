"""`sources-bot sources import`: check every record, then write all of them or none."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain import Identity, TokenSet
from bot.networks import Catalogue
from bot.services.context import Context
from bot.services.sources import add_credential, mark_connected, upsert_source
from bot.services.workspaces import WorkspaceService

FIELDS = {
    "network",
    "account_id",
    "name",
    "kind",
    "access_token",
    "refresh_token",
    "expires_at",
    "scopes",
    "workspace",
}


class InvalidImport(ValueError):
    """Some records are invalid; ``problems`` lists each as 'record N: field: why'."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ImportRecord:
    workspace: str | None
    network: str
    kind: str
    identity: Identity
    tokens: TokenSet


def parse_records(data: Any, catalogue: Catalogue) -> list[ImportRecord]:
    """Validate every record; raise InvalidImport naming each bad one (first record is 1)."""
    if not isinstance(data, list):
        raise InvalidImport(["the file must hold a JSON array of records"])
    problems: list[str] = []
    numbered: list[tuple[int, ImportRecord]] = []
    for number, raw in enumerate(data, start=1):
        errors = _check(raw, catalogue)
        problems.extend(f"record {number}: {error}" for error in errors)
        if not errors:
            numbered.append((number, _record(raw)))
    seen: dict[tuple[str | None, str, str], int] = {}
    for number, record in numbered:  # numbers of the file, not of the valid records
        key = (record.workspace, record.network, record.identity.account_id)
        if key in seen:
            problems.append(f"record {number}: account_id: same account as record {seen[key]}")
        seen.setdefault(key, number)
    if problems:
        raise InvalidImport(problems)
    return [record for _, record in numbered]


def _check(raw: Any, catalogue: Catalogue) -> list[str]:
    if not isinstance(raw, dict):
        return ["must be a JSON object"]
    errors = [f"{key}: unknown field" for key in raw if key not in FIELDS]
    for key in ("network", "account_id", "name", "access_token", "expires_at"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            errors.append(f"{key}: required, a non-empty string")
    network = raw.get("network")
    if isinstance(network, str) and network and network.lower() not in catalogue:
        errors.append(
            f"network: unknown network {network!r} (known: {', '.join(catalogue.names())})"
        )
    expires_at = raw.get("expires_at")
    if isinstance(expires_at, str) and expires_at:
        try:
            parsed = datetime.fromisoformat(expires_at)
        except ValueError:
            errors.append("expires_at: not an ISO 8601 date-time")
        else:
            if parsed.tzinfo is None:
                errors.append("expires_at: needs a UTC offset, e.g. 2027-01-31T09:00:00+00:00")
    kind = raw.get("kind")
    if kind is not None and isinstance(network, str) and network.lower() in catalogue:
        page_kind = catalogue[network.lower()].page_kind
        allowed = ["account"] + ([page_kind] if page_kind else [])
        if kind not in allowed:
            errors.append(f"kind: must be one of {', '.join(allowed)} for {network}")
    for key in ("refresh_token", "workspace"):
        if key in raw and raw[key] is not None and not isinstance(raw[key], str):
            errors.append(f"{key}: must be a string")
    scopes = raw.get("scopes")
    if scopes is not None and not (
        isinstance(scopes, list) and all(isinstance(scope, str) for scope in scopes)
    ):
        errors.append("scopes: must be a list of strings")
    return errors


def _record(raw: dict[str, Any]) -> ImportRecord:
    return ImportRecord(
        workspace=raw.get("workspace") or None,
        network=raw["network"].lower(),
        kind=raw.get("kind") or "account",
        identity=Identity(account_id=raw["account_id"].strip(), name=raw["name"].strip()),
        tokens=TokenSet(
            access_token=raw["access_token"],
            refresh_token=raw.get("refresh_token") or None,
            expires_at=datetime.fromisoformat(raw["expires_at"]),
            scopes=" ".join(raw["scopes"]) if raw.get("scopes") else None,
        ),
    )


async def import_records(
    ctx: Context, workspaces: WorkspaceService, records: Sequence[ImportRecord]
) -> tuple[int, int]:
    """Write every record in one transaction; return (created, updated)."""
    default = None
    if any(record.workspace is None for record in records):
        default = (await workspaces.default()).id
    for team_id in {record.workspace for record in records if record.workspace}:
        await workspaces.ensure(team_id)
    now = ctx.clock.now()
    created = updated = 0
    async with ctx.db.begin() as session:
        for record in records:
            workspace_id = record.workspace or default
            assert workspace_id is not None
            source, is_new = await upsert_source(
                session, workspace_id, record.network, record.identity, now, record.kind
            )
            source.kind = record.kind
            add_credential(session, ctx, source, record.tokens, now)
            mark_connected(source, ctx.catalogue.get(record.network), record.tokens, now)
            created += is_new
            updated += not is_new
    return created, updated
