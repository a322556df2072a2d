"""The event log: each change in a source's life is one event, appended with the change,
with who did it and a payload that never holds a secret."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import TEAM, Harness, bot_env, running_bot
from sqlalchemy import select
from test_loop import OTHER, connect, expire_acme
from test_renewal import X_ACCOUNT, x_source

from bot.services.events import EventIds
from bot.services.sources import decrypt
from bot.store.models import Credential


async def events(h: Harness) -> list[tuple[str, int | None, str, dict[str, Any]]]:
    rows = await h.rows("SELECT type, source_id, actor, payload FROM events ORDER BY id")
    return [(t, s, a, p if isinstance(p, dict) else json.loads(p)) for t, s, a, p in rows]


async def secrets_in_events(h: Harness) -> list[str]:
    """Every token the bot ever stored that shows up in the event log or the outbox."""
    dump = json.dumps(await h.rows("SELECT * FROM events"), default=str)
    dump += json.dumps(await h.rows("SELECT payload FROM outbox"), default=str)
    async with h.services.ctx.read() as session:
        credentials = (await session.scalars(select(Credential))).all()
    tokens = []
    for credential in credentials:
        tokenset = decrypt(h.services.ctx, credential)
        tokens += [tokenset.access_token, *filter(None, [tokenset.refresh_token])]
    assert tokens
    return [token for token in tokens if token in dump]


async def test_the_core_loop_is_told_by_its_events(harness: Harness) -> None:
    notice = await expire_acme(harness)
    harness.linkedin.add_account(*OTHER)
    for account in ("urn-other", "urn-acme"):  # the wrong login first, then the right one
        harness.linkedin.login_as(account)
        link = await harness.reconnect_link(notice, user="U2")
        async with harness.browser() as browser:
            await browser.get(link)

    (source_id,) = {source_id for _, source_id, _, _ in await events(harness)}
    assert await events(harness) == [
        ("source.connected", source_id, "U1", {"by": "U1", "as": "Acme Corp"}),
        (
            "source.expired",
            source_id,
            "scan",
            {"reason": "LinkedIn connection expired on 27 Jan"},
        ),
        (
            "source.wrong_account",
            source_id,
            "U2",
            {"by": "U2", "as": "Someone Else", "account_id": "urn-other"},
        ),
        ("source.restored", source_id, "U2", {"by": "U2", "as": "Acme Corp"}),
    ]
    assert await secrets_in_events(harness) == []


async def test_renewals_failures_and_expiry(network_bot: Any) -> None:
    async with network_bot("x") as (h, fake):
        await x_source(h, fake)
        h.clock.advance(timedelta(minutes=110))
        await h.scan()  # renewed
        h.clock.advance(timedelta(minutes=110))
        fake.fail("refresh", 503, times=2)
        await h.scan()  # fails: a streak starts
        h.clock.advance(timedelta(minutes=3))
        await h.scan()  # fails again: no news
        h.clock.advance(timedelta(minutes=5))
        await h.scan()  # renewed
        fake.revoke(X_ACCOUNT)
        h.clock.advance(timedelta(minutes=110))
        await h.scan()  # the network says the grant is gone

        kinds = [(kind, actor) for kind, _, actor, _ in await events(h)]
        assert kinds == [
            ("source.connected", "cli"),  # x_source imports it (issue 7: imports announce)
            ("source.renewed", "scan"),
            ("source.renewal_failing", "scan"),
            # No warning, so no source.expiring: an 8-minute blip stays quiet (issue 9).
            ("source.renewed", "scan"),
            ("source.expired", "scan"),
        ]
        failing = (await events(h))[2][3]
        assert failing == {"kind": "transient", "reason": "X is not answering (HTTP 503)"}
        assert await secrets_in_events(h) == []


async def test_warnings_are_expiring_events_once_per_threshold(harness: Harness) -> None:
    await connect(harness)
    harness.clock.advance(timedelta(days=53, hours=1))  # under 7 days left
    await harness.scan()
    await harness.scan()
    harness.clock.advance(timedelta(days=6))  # under a day left
    await harness.scan()
    expiring = [(k, p["days"]) for k, _, _, p in await events(harness) if k == "source.expiring"]
    assert expiring == [("source.expiring", 7), ("source.expiring", 1)]


async def test_removing_a_source_is_the_last_event_of_its_history(
    harness: Harness, capsys: Any
) -> None:
    await connect(harness)
    (source,) = await harness.services.sources.list(TEAM)
    removed = await harness.services.sources.remove(source.id, actor="cli")
    assert removed is not None and removed.id == source.id
    assert await harness.services.sources.list(TEAM) == []
    assert [(k, a) for k, _, a, _ in await events(harness)] == [
        ("source.connected", "U1"),
        ("source.removed", "cli"),
    ]
    assert await harness.rows("SELECT count(*) FROM credentials") == [(0,)]


async def test_old_events_are_forgotten_after_the_retention(
    database_url: str, slack: Any, linkedin: Any, clock: Any
) -> None:
    env = bot_env(database_url, slack, linkedin) | {"EVENT_RETENTION_DAYS": "30"}
    async with running_bot(env, slack, linkedin, clock) as h:
        await connect(h)
        clock.advance(timedelta(days=29))
        await h.scan()
        assert [k for k, _, _, _ in await events(h)] == ["source.connected"]
        clock.advance(timedelta(days=2))
        await h.scan()
        assert "source.connected" not in [k for k, _, _, _ in await events(h)]


def test_event_ids_sort_in_the_order_they_were_made() -> None:
    ids = EventIds()
    clock = datetime(2026, 1, 1, tzinfo=UTC)
    made = [ids.new(clock) for _ in range(1000)]  # all in the same millisecond
    made += [ids.new(clock + timedelta(milliseconds=1)) for _ in range(10)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(len(i) == 30 and i.startswith("evt_") for i in made)
