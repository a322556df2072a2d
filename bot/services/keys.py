"""The keys of TOKEN_ENCRYPTION_KEY against what is stored: which key opens what, and rotation.

Every encrypted column is listed once, in :data:`bot.store.secrets.ENCRYPTED`; these functions
walk them in batches by primary key, so memory stays flat in the number of secrets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update

from bot.services.context import Context
from bot.store.models import Source
from bot.store.secrets import ENCRYPTED, EncryptedColumns

BATCH = 1000
Progress = Callable[[int, int], None]  # (secrets done, secrets in all)


@dataclass
class KeyReport:
    """How many stored secrets each key decrypts (index 0 is the newest key)."""

    per_key: list[int]
    undecryptable: int = 0
    sources: set[int] = field(default_factory=set)  # sources holding an undecryptable secret

    @property
    def total(self) -> int:
        return sum(self.per_key) + self.undecryptable


@dataclass
class RotationReport:
    rotated: int = 0
    already_newest: int = 0
    undecryptable: int = 0
    sources: set[int] = field(default_factory=set)


async def count_secrets(ctx: Context) -> int:
    total = 0
    async with ctx.read() as session:
        for spec in ENCRYPTED:
            table = spec.sql_table
            for column in spec.columns:
                total += (
                    await session.scalar(
                        select(func.count()).select_from(table).where(table.c[column].is_not(None))
                    )
                    or 0
                )
    return total


async def check(ctx: Context) -> KeyReport:
    """Which key decrypts each stored secret, and which secrets none does."""
    report = KeyReport(per_key=[0] * ctx.cipher.key_count)
    async for spec, rows in _batches(ctx):
        for row in rows:
            for column in spec.columns:
                value = row[column]
                if value is None:
                    continue
                index = ctx.cipher.key_index(value)
                if index is None:
                    report.undecryptable += 1
                    if spec.source and row[spec.source] is not None:
                        report.sources.add(row[spec.source])
                else:
                    report.per_key[index] += 1
    return report


async def rotate(ctx: Context, progress: Progress | None = None) -> RotationReport:
    """Re-encrypt every secret that is not under the newest key with it, batch by batch.

    Each batch commits on its own and only rewrites a secret that still holds the value read,
    so a rotation can be stopped and run again (it picks up where it stopped) while the bot
    serves.
    """
    report = RotationReport()
    total = await count_secrets(ctx)
    done = 0
    async for spec, rows in _batches(ctx):
        changes: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            for column in spec.columns:
                value = row[column]
                if value is None:
                    continue
                done += 1
                index = ctx.cipher.key_index(value)
                if index == 0:
                    report.already_newest += 1
                elif index is None:
                    report.undecryptable += 1
                    if spec.source and row[spec.source] is not None:
                        report.sources.add(row[spec.source])
                else:
                    changes.setdefault(column, []).append(
                        {"row_key": row[spec.key], "old": value, "new": ctx.cipher.rotate(value)}
                    )
        if changes:
            report.rotated += await _write(ctx, spec, changes)
        if progress is not None:
            progress(done, total)
    return report


async def source_labels(ctx: Context, source_ids: set[int], limit: int = 10) -> str:
    """'LinkedIn · Acme (3), X · Blog (7) and 12 more', for messages about those sources."""
    shown = sorted(source_ids)[:limit]
    async with ctx.read() as session:
        rows = (
            await session.execute(
                select(Source.id, Source.network, Source.name).where(Source.id.in_(shown))
            )
        ).all()
    labels = [f"{ctx.catalogue.title(network)} · {name} ({id_})" for id_, network, name in rows]
    more = len(source_ids) - len(shown)
    return ", ".join(labels) + (f" and {more} more" if more > 0 else "")


async def _batches(
    ctx: Context,
) -> AsyncIterator[tuple[EncryptedColumns, list[Any]]]:
    """Each registered table's rows holding a secret, ``BATCH`` at a time, by primary key."""
    for spec in ENCRYPTED:
        table = spec.sql_table
        key = table.c[spec.key]
        wanted = [key, *(table.c[c] for c in spec.columns)]
        if spec.source:
            wanted.append(table.c[spec.source])
        holds_secret = or_(*(table.c[c].is_not(None) for c in spec.columns))
        last = None
        while True:
            query = select(*wanted).where(holds_secret).order_by(key).limit(BATCH)
            if last is not None:
                query = query.where(key > last)
            async with ctx.read() as session:
                rows = [row._mapping for row in (await session.execute(query)).all()]
            if not rows:
                break
            yield spec, rows
            last = rows[-1][spec.key]


async def _write(
    ctx: Context, spec: EncryptedColumns, changes: dict[str, list[dict[str, Any]]]
) -> int:
    table = spec.sql_table
    key = table.c[spec.key]
    async with ctx.db.begin() as session:
        for column, params in changes.items():
            # Only where the value read is still there: a secret written meanwhile (a renewal)
            # is already under the newest key.
            await session.execute(
                update(table)
                .where(and_(key == bindparam("row_key"), table.c[column] == bindparam("old")))
                .values({column: bindparam("new")}),
                params,
            )
    return sum(len(params) for params in changes.values())
