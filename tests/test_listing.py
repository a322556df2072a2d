"""`/sources` and the App Home read their sources through the database: the status rule and
the display order applied in SQL must give exactly what Python gives, on SQLite and
PostgreSQL, and a view built from the head the database returns must be the view built from
every source."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from conftest import TEAM, Harness
from sqlalchemy import select

from bot.blocks.home import MAX_HOME_BLOCKS, HomeSettings, home_view
from bot.blocks.replies import LIST_BLOCKS, sources_list
from bot.blocks.sources import sort_for_display
from bot.domain import Status
from bot.services.workspaces import WorkspaceService
from bot.status import (
    display_key,
    display_order_sql,
    effective_status,
    status_params,
    status_sql,
)
from bot.store.models import Source, Workspace

STORED = [str(s) for s in Status]
WARNINGS = [(7, 1), (), (14,), (1,)]
# Names that sort differently under careless case folding or a locale's collation.
TRICKY_NAMES = [
    "acme", "Acme", "ACME", "acme ", "a_b", "ab", "a-b", "A b", "Zeta", "zeta", "Émile", "émile",
    "Ölwerk", "oelwerk", "Straße", "STRASSE", "ǅemal", "İstanbul", "istanbul", "東京", "123",
    "_x", "~x", "Ω", "ω", "", " ",
]  # fmt: skip


def expiries(now: datetime) -> list[datetime | None]:
    return [
        None,
        now - timedelta(days=1),
        now - timedelta(seconds=1),
        now,
        now + timedelta(seconds=1),
        now + timedelta(hours=23),
        now + timedelta(days=1),
        now + timedelta(days=6, hours=23),
        now + timedelta(days=7),
        now + timedelta(days=7, seconds=1),
        now + timedelta(days=14),
        now + timedelta(days=60),
    ]


async def add_sources(h: Harness, rows: list[dict[str, Any]], team: str = TEAM) -> None:
    await WorkspaceService(h.services.ctx).ensure(team)
    now = h.clock.now()
    async with h.services.ctx.db.begin() as session:
        for n, row in enumerate(rows):
            session.add(
                Source(
                    workspace_id=team,
                    account_id=f"acct-{n}",
                    kind="account",
                    episode=0,
                    failures=0,
                    status_changed_at=now,
                    created_at=now,
                    updated_at=now,
                    **row,
                )
            )


async def test_the_status_rule_gives_the_same_in_sql_as_in_python(harness: Harness) -> None:
    now = harness.clock.now()
    grid = itertools.product(STORED, expiries(now), [True, False], ["linkedin", "x"])
    rows = [
        {"status": stored, "expires_at": at, "renewable": renewable, "network": net, "name": "n"}
        for stored, at, renewable, net in grid
    ]
    await add_sources(harness, rows)
    configured = harness.services.ctx.catalogue.configured()
    assert configured == {"linkedin"}  # so both branches of "renews by itself" are met

    shown = status_sql(Source, configured)
    for days in WARNINGS:
        async with harness.services.ctx.read() as session:
            found = (
                await session.execute(
                    select(Source, shown).order_by(Source.id), status_params(now, days)
                )
            ).all()
        assert len(found) == len(rows)
        disagree = []
        for source, in_sql in found:
            renews = source.renewable and source.network in configured
            expected = effective_status(source.status, source.expires_at, now, days, renews)
            if in_sql != str(expected):
                disagree.append((source.status, source.expires_at, renews, in_sql, expected))
        assert disagree == [], f"warning days {days}"


async def test_the_display_order_is_the_same_in_sql_as_in_python(harness: Harness) -> None:
    now = harness.clock.now()
    shuffle = random.Random(7)
    alphabet = "aAbBzZ_- éÉöÖßẞ東京ωΩ0"
    names = TRICKY_NAMES + [
        "".join(shuffle.choice(alphabet) for _ in range(shuffle.randint(1, 6))) for _ in range(200)
    ]
    rows = [
        {
            "status": shuffle.choice(STORED),
            "expires_at": shuffle.choice(expiries(now)),
            "renewable": False,
            "network": shuffle.choice(["linkedin", "x", "facebook"]),
            "name": name,
        }
        for name in names
    ]
    await add_sources(harness, rows)
    days = (7, 1)
    status = status_sql(Source, frozenset({"linkedin"}))
    async with harness.services.ctx.read() as session:
        in_sql = (
            await session.scalars(
                select(Source).order_by(*display_order_sql(Source, status)),
                status_params(now, days),
            )
        ).all()

    def key(source: Source) -> tuple[Any, ...]:
        shown = effective_status(source.status, source.expires_at, now, days)
        return display_key(shown, source.network, source.name, source.id)

    assert [s.id for s in in_sql] == [s.id for s in sorted(in_sql, key=key)]


def workspace_of(h: Harness, counts: dict[str, int], now: datetime) -> list[dict[str, Any]]:
    """Sources in each shown status (``counts``), over three networks, names out of order."""
    shuffle = random.Random(sum(counts.values()))
    at = {
        "expired": now - timedelta(days=2),
        "revoked": now + timedelta(days=30),
        "expiring": now + timedelta(days=3),
        "active": now + timedelta(days=40),
    }
    rows = []
    for status, count in counts.items():
        for n in range(count):
            rows.append(
                {
                    "status": "revoked" if status == "revoked" else "active",
                    "expires_at": at[status] + timedelta(minutes=n),
                    "renewable": False,
                    "network": shuffle.choice(["linkedin", "x", "facebook"]),
                    "name": f"{shuffle.choice(['Acme', 'acme', 'Zed', 'Émile'])} {n:04d}",
                }
            )
    shuffle.shuffle(rows)
    return rows


@pytest.mark.parametrize(
    "counts",
    [
        {"expired": 20, "expiring": 30, "active": 950},  # the benchmark's workspace
        {"expired": 3, "expiring": 2, "active": 400},  # few need someone: lines fill the view
        {"active": 4000},  # more healthy lines than any view holds
        {"expired": 120, "revoked": 5},
        {"expiring": 1},
        {},
    ],
    ids=["bench", "mostly-healthy", "all-healthy", "all-broken", "one", "none"],
)
async def test_views_read_through_the_database_show_what_every_source_would(
    harness: Harness, counts: dict[str, int]
) -> None:
    now = harness.clock.now()
    await add_sources(harness, workspace_of(harness, counts, now))
    sources = harness.services.sources
    every = await sources.list(TEAM)
    assert len(every) == sum(counts.values())
    settings = HomeSettings("C1", 9, "UTC")
    networks = list(harness.services.ctx.catalogue)

    listing = await sources.listing(TEAM, LIST_BLOCKS)
    assert sources_list(listing, now) == sources_list(every, now)
    assert list(listing.first) == sort_for_display(every)[: len(listing.first)]
    home = await sources.listing(TEAM, MAX_HOME_BLOCKS)
    assert home_view(home, networks, settings, now) == home_view(every, networks, settings, now)

    broken = [s for s in every if s.status.needs_reconnect]
    expired = await sources.listing(TEAM, LIST_BLOCKS, only_broken=True)
    assert sources_list(expired, now, "expired") == sources_list(broken, now, "expired")
    on_x = [s for s in every if s.network == "x"]
    x = await sources.listing(TEAM, LIST_BLOCKS, network="x")
    assert sources_list(x, now, "X") == sources_list(on_x, now, "X")


async def test_a_listing_reads_the_head_only_when_that_is_all_a_view_shows(
    harness: Harness,
) -> None:
    now = harness.clock.now()
    await add_sources(harness, workspace_of(harness, {"expired": 60, "active": 500}, now))
    await add_sources(harness, workspace_of(harness, {"active": 30}, now), team="T0OTHER")

    listing = await harness.services.sources.listing(TEAM, LIST_BLOCKS)

    # Two blocks each: no more than half the view's blocks can be shown, so no more is read.
    assert (listing.total, listing.broken, len(listing.first)) == (560, 60, LIST_BLOCKS // 2)
    assert {s.status for s in listing.first} == {Status.EXPIRED}
    async with harness.services.ctx.read() as session:
        assert await session.get(Workspace, "T0OTHER") is not None
