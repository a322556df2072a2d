"""Under load: every answer arrives (later, not lost), and reading never writes.

The figures (ack latency, CPU, memory against a bare Bolt app) are in bench/; these tests check
the behaviour that makes them possible.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from conftest import TEAM, Harness, bot_env, running_bot
from fakes import slack_requests
from fakes.oauth_provider import FakeOAuthProvider
from fakes.slack_api import FakeSlack
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.blocks.texts import SOMETHING_WENT_WRONG
from bot.clock import FrozenClock
from bot.services.importer import import_records, parse_records
from bot.store.db import pool_size

BURST = 12


@contextlib.asynccontextmanager
async def bot_with_pool(
    size: int, database_url: str, slack: FakeSlack, linkedin: FakeOAuthProvider, clock: FrozenClock
) -> AsyncIterator[Harness]:
    env = {**bot_env(database_url, slack, linkedin), "DATABASE_POOL_SIZE": str(size)}
    async with running_bot(env, slack, linkedin, clock) as h:
        await h.services.workspaces.ensure(TEAM, "Acme")
        yield h


async def import_sources(h: Harness, count: int) -> None:
    now = h.clock.now()
    records = [
        {
            "network": "linkedin",
            "account_id": f"urn-{n}",
            "name": f"Page {n}",
            "access_token": f"token-{n}",
            "expires_at": (now.replace(year=now.year + 1)).isoformat(),
            "workspace": TEAM,
        }
        for n in range(count)
    ]
    parsed = parse_records(records, h.services.ctx.catalogue)
    await import_records(h.services.ctx, h.services.workspaces, parsed)


@contextlib.contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement the engine sends while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement.strip())

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def writes(seen: list[str]) -> list[str]:
    kinds = ("INSERT", "UPDATE", "DELETE", "BEGIN IMMEDIATE")
    return [s for s in seen if s.upper().startswith(kinds)]


async def test_database_pool_size_sets_the_pool(
    database_url: str, slack: FakeSlack, linkedin: FakeOAuthProvider, clock: FrozenClock
) -> None:
    async with bot_with_pool(3, database_url, slack, linkedin, clock) as h:
        assert pool_size(h.bot.engine) == 3


async def test_a_burst_is_acked_at_once_and_answered_in_turn_all_of_it(
    database_url: str,
    slack: FakeSlack,
    linkedin: FakeOAuthProvider,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with bot_with_pool(2, database_url, slack, linkedin, clock) as h:
        await import_sources(h, 3)
        listing = h.services.sources.listing
        gate = asyncio.Event()
        changed = asyncio.Condition()
        inside = most = 0

        async def held_listing(*args: Any, **kwargs: Any) -> Any:
            nonlocal inside, most
            async with changed:
                inside += 1
                most = max(most, inside)
                changed.notify_all()
            try:
                await gate.wait()
                return await listing(*args, **kwargs)
            finally:
                inside -= 1

        monkeypatch.setattr(h.services.sources, "listing", held_listing)
        bodies = [
            slack_requests.slash_command(
                text="", team_id=TEAM, response_url=slack.response_url(f"burst-{n}")
            )[0]
            for n in range(BURST)
        ]
        # Every request is acked while the work behind the acks is held up.
        acks = await asyncio.gather(*(h.send(body) for body in bodies))
        assert [ack.status_code for ack in acks] == [200] * BURST
        async with changed:
            await asyncio.wait_for(changed.wait_for(lambda: inside == 2), 5)
        for _ in range(20):  # room for more listeners to start, were they not held back
            await asyncio.sleep(0.01)
        assert most == 2  # DATABASE_POOL_SIZE listeners at a time

        gate.set()
        answers = await slack.wait_for("response_url", BURST, timeout=30)
    texts = [call.args.get("text", "") for call in answers]
    assert not [text for text in texts if SOMETHING_WENT_WRONG in text]
    assert all("Page 0" in str(call.args["blocks"]) for call in answers)


async def test_sources_and_the_app_home_do_not_write_when_nothing_changed(
    harness: Harness,
) -> None:
    await import_sources(harness, 5)
    await harness.command("")  # the workspace is created on first sight
    with statements(harness.bot.engine) as seen:
        for text in ("", "expired", "linkedin", "help", "nonsense words"):
            await harness.command(text)
        body, _ = slack_requests.app_home_opened(user_id="U1", team_id=TEAM)
        assert (await harness.send(body)).status_code == 200
        await harness.slack.wait_for("views.publish")
    assert [s for s in seen if s.upper().startswith("SELECT")]  # the listener did read
    assert writes(seen) == []
