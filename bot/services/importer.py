"""`sources-bot sources import`: check every record, then write all of them or none.

The write is one transaction, done in chunks: each chunk looks its sources and their current
credentials up in one query each and inserts in batches, so 100,000 records take seconds.
Each new source gets its `source.connected` event (actor `cli`, payload ``{"imported": true}``)
in the same transaction, with the webhook deliveries of workspaces that want it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto import UndecryptableToken
from bot.domain import Identity, TokenSet
from bot.networks import Catalogue
from bot.services.context import Context
from bot.services.events import CLI, Change, EventType
from bot.services.sources import (
    credential_row,
    decrypt,
    mark_connected,
    new_source,
    source_info,
    source_json,
    warning_days,
)
from bot.services.workspaces import WorkspaceService
from bot.store.models import Base, Credential, Source, Workspace

CHUNK = 1000
MAX_TOKEN_BYTES = 16 * 1024  # real tokens are at most a few KB; more is a mistake in the file
Progress = Callable[[int, int], None]  # (records written, records in all)

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
        if key == "expires_at" and value is not None and not isinstance(value, str):
            errors.append("expires_at: must be an ISO 8601 string")
        elif not isinstance(value, str) or not value.strip():
            errors.append(f"{key}: required, a non-empty string")
    for key in ("access_token", "refresh_token"):
        value = raw.get(key)
        if isinstance(value, str) and len(value.encode()) > MAX_TOKEN_BYTES:
            errors.append(f"{key}: longer than 16 KB; is it really a token?")
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
    ctx: Context,
    workspaces: WorkspaceService,
    records: Sequence[ImportRecord],
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Write every record in one transaction; return (created, updated).

    A known account is updated; its new tokens join its credential history unless they are
    the ones it already holds.
    """
    default = None
    if any(record.workspace is None for record in records):
        default = (await workspaces.default()).id
    now = ctx.clock.now()
    created = updated = 0
    async with ctx.db.begin() as session:
        await _ensure_workspaces(session, {r.workspace for r in records if r.workspace}, now)
        for start in range(0, len(records), CHUNK):
            chunk = records[start : start + CHUNK]
            new = await _write_chunk(session, ctx, chunk, default, now)
            created += new
            updated += len(chunk) - new
            session.expunge_all()  # written: memory stays flat in the number of records
            if progress is not None:
                progress(start + len(chunk), len(records))
    return created, updated


async def _ensure_workspaces(session: AsyncSession, team_ids: set[str], now: datetime) -> None:
    known: set[str] = set()
    for batch in _batched(sorted(team_ids), CHUNK):
        known.update(await session.scalars(select(Workspace.id).where(Workspace.id.in_(batch))))
    session.add_all(Workspace(id=team_id, created_at=now) for team_id in team_ids - known)
    await session.flush()


# What an import sets on a source: its name and kind, and what mark_connected sets.
IMPORTED_COLUMNS = (
    "name",
    "kind",
    "status",
    "status_changed_at",
    "restored_at",
    "restored_by",
    "expires_at",
    "renewable",
    "last_error",
    "failures",
    "failing_since",
    "next_attempt_at",
    "updated_at",
    "connected_by",
    "connected_as",
)


async def _write_chunk(
    session: AsyncSession,
    ctx: Context,
    chunk: Sequence[ImportRecord],
    default: str | None,
    now: datetime,
) -> int:
    """Upsert one chunk's sources and credentials; return how many sources were new.

    The rules are the ORM's (:func:`new_source`, :func:`mark_connected`), applied to objects
    outside the session; the rows are written with one executemany per statement, which the
    ORM's unit of work would do row by row here.
    """

    def key(record: ImportRecord) -> tuple[str, str, str]:
        workspace_id = record.workspace or default
        assert workspace_id is not None
        return (workspace_id, record.network, record.identity.account_id)

    keys = [key(record) for record in chunk]
    existing = await _sources(session, keys)
    latest = (
        select(func.max(Credential.id))
        .where(Credential.source_id.in_([s.id for s in existing.values()]))
        .group_by(Credential.source_id)
    )
    held = await session.scalars(select(Credential).where(Credential.id.in_(latest)))
    current = {credential.source_id: credential for credential in held}
    session.expunge_all()  # what follows changes copies; the statements below write them

    sources: list[Source] = []
    for record, source_key in zip(chunk, keys, strict=True):
        source = existing.get(source_key) or new_source(
            source_key[0], source_key[1], record.identity, now, record.kind
        )
        source.name = record.identity.name
        source.kind = record.kind
        mark_connected(source, ctx.catalogue.get(record.network), record.tokens, now)
        sources.append(source)
    table = Base.metadata.tables["sources"]
    fresh = [s for s in sources if s.id is None]
    known = [s for s in sources if s.id is not None]
    if fresh:
        columns = [c.key for c in table.columns if c.key != "id"]
        await session.execute(insert(table), [{c: getattr(s, c) for c in columns} for s in fresh])
        ids = await _sources(session, [(s.workspace_id, s.network, s.account_id) for s in fresh])
        session.expunge_all()
        for source in fresh:
            source.id = ids[(source.workspace_id, source.network, source.account_id)].id
        days = {
            workspace_id: await warning_days(session, ctx, workspace_id)
            for workspace_id in {source.workspace_id for source in fresh}
        }
        await ctx.events.append_many(
            session,
            [
                Change(
                    source.workspace_id,
                    source.id,
                    _json_of(ctx, source, now, days[source.workspace_id]),
                )
                for source in fresh
            ],
            type=EventType.CONNECTED,
            actor=CLI,
            payload={"imported": True},
            now=now,
        )
    if known:
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("source_id"))
            .values({c: bindparam(c) for c in IMPORTED_COLUMNS}),
            [{"source_id": s.id, **{c: getattr(s, c) for c in IMPORTED_COLUMNS}} for s in known],
        )
    credentials = [
        credential_row(ctx, source.id, record.tokens, now)
        for record, source in zip(chunk, sources, strict=True)
        if source.id not in current or not _holds(ctx, current[source.id], record.tokens)
    ]
    if credentials:
        await session.execute(insert(Base.metadata.tables["credentials"]), credentials)
    return len(fresh)


async def _sources(
    session: AsyncSession, keys: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], Source]:
    identity = tuple_(Source.workspace_id, Source.network, Source.account_id)
    found = await session.scalars(select(Source).where(identity.in_(keys)))
    return {(s.workspace_id, s.network, s.account_id): s for s in found}


def _json_of(
    ctx: Context, source: Source, now: datetime, days: tuple[int, ...]
) -> Callable[[], dict[str, Any]]:
    return lambda: source_json(source_info(ctx, source, now, days))


def _holds(ctx: Context, credential: Credential, tokens: TokenSet) -> bool:
    """The credential already stores exactly these tokens (re-importing adds no history)."""
    try:
        stored = decrypt(ctx, credential)
    except UndecryptableToken:
        return False
    return (stored.access_token, stored.refresh_token, stored.expires_at, stored.scopes) == (
        tokens.access_token,
        tokens.refresh_token,
        tokens.expires_at,
        tokens.scopes,
    )


def _batched(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
