"""The daily digest: most urgent first, the workspace's digest days, and a digest that still
goes out (once) when the bot was not running at its hour."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from api_support import add_sources
from conftest import CHANNEL, TEAM, Harness, blocks_text

from bot.store.models import Workspace


async def set_workspace(h: Harness, **values: Any) -> None:
    """The workspace's own settings, as the settings modal stores them."""
    await h.services.workspaces.ensure(TEAM, "Acme")
    async with h.services.ctx.db.begin() as session:
        workspace = await session.get(Workspace, TEAM)
        for name, value in values.items():
            setattr(workspace, name, value)


def digests(h: Harness) -> list[dict[str, Any]]:
    return [
        call.args
        for call in h.slack.successful_calls("chat.postMessage")
        if call.args["channel"] == CHANNEL and call.args["text"].startswith("Sources digest")
    ]


def at(h: Harness, days: int = 0, hour: int = 9, minute: int = 0) -> None:
    """Set the clock to ``hour:minute`` UTC, ``days`` after the test's first day."""
    h.clock.set((h.clock.now() + timedelta(days=days)).replace(hour=hour, minute=minute))


async def test_the_most_urgent_come_first_and_names_in_natural_order(harness: Harness) -> None:
    await harness.services.workspaces.ensure(TEAM, "Acme")
    await add_sources(
        harness,
        {"account_id": "a", "name": "Down a day", "expires_in": -1},
        {"account_id": "b", "name": "Down five days", "expires_in": -5},
        {"account_id": "c", "name": "Page 10", "expires_in": 3},
        {"account_id": "d", "name": "page 2", "expires_in": 3},
        {"account_id": "e", "name": "Zed", "expires_in": 1},
        {"account_id": "f", "name": "Fine", "expires_in": 30},
    )
    ids = {s.name: s.id for s in await harness.services.sources.list(TEAM)}

    at(harness, hour=9, minute=2)
    assert await harness.digest_due() == 1

    (digest,) = digests(harness)
    reconnects = [
        block["accessory"]["value"]
        for block in digest["blocks"]
        if block.get("accessory", {}).get("action_id") == "reconnect_source"
    ]
    assert reconnects == [str(ids["Down five days"]), str(ids["Down a day"])]
    expiring = next(
        block["text"]["text"]
        for block in digest["blocks"]
        if block["type"] == "section" and block["text"]["text"].startswith(":alarm_clock:")
    )
    assert [line.split(" · ")[1].split(" — ")[0] for line in expiring.split("\n")] == [
        "Zed",
        "page 2",
        "Page 10",
    ]
    assert "*Expiring within 7 days (3)*" in blocks_text(digest)


async def test_expiring_soon_is_the_workspaces_warning_window(harness: Harness) -> None:
    await set_workspace(harness, warning_days=[14, 2])
    await add_sources(harness, {"account_id": "a", "name": "Acme", "expires_in": 10})
    at(harness, hour=9)
    assert await harness.digest_due() == 1
    (digest,) = digests(harness)
    assert digest["text"] == "Sources digest 28 Nov: 1 expiring within 14 days"


async def test_a_digest_missed_at_its_hour_goes_out_when_the_bot_is_back_once(
    harness: Harness,
) -> None:
    await harness.services.workspaces.ensure(TEAM, "Acme")
    await add_sources(harness, {"account_id": "a", "name": "Acme", "expires_in": -1})
    at(harness, hour=8, minute=55)
    assert await harness.digest_due() == 0
    at(harness, hour=13, minute=20)  # the bot was down from before 9 until now
    assert await harness.digest_due() == 1
    at(harness, hour=13, minute=25)
    assert await harness.digest_due() == 0
    at(harness, hour=23, minute=55)
    assert await harness.digest_due() == 0
    at(harness, days=1, hour=8, minute=55)  # the next day waits for its own hour
    assert await harness.digest_due() == 0
    at(harness, hour=9, minute=0)
    assert await harness.digest_due() == 1
    assert [d["text"] for d in digests(harness)] == [
        "Sources digest 28 Nov: 1 expired",
        "Sources digest 29 Nov: 1 expired",
    ]


async def test_catching_up_keeps_to_the_digest_days(harness: Harness) -> None:
    await set_workspace(harness, digest_days="weekdays")
    await add_sources(harness, {"account_id": "a", "name": "Acme", "expires_in": -1})
    assert harness.clock.now().strftime("%A") == "Saturday"
    for hour in (9, 15, 23):
        at(harness, hour=hour)
        assert await harness.digest_due() == 0
    at(harness, days=1, hour=12)  # Sunday
    assert await harness.digest_due() == 0
    at(harness, days=1, hour=11)  # Monday, two hours late
    assert await harness.digest_due() == 1
    assert [d["text"] for d in digests(harness)] == ["Sources digest 30 Nov: 1 expired"]


async def test_a_workspace_that_arrives_after_the_hour_starts_the_next_day(
    harness: Harness,
) -> None:
    at(harness, hour=10)
    await harness.services.workspaces.ensure(TEAM, "Acme")
    await add_sources(harness, {"account_id": "a", "name": "Acme", "expires_in": -1})
    at(harness, hour=10, minute=5)
    assert await harness.digest_due() == 0
    at(harness, days=1, hour=9)
    assert await harness.digest_due() == 1


async def test_the_hour_is_the_workspaces_own_in_its_time_zone(harness: Harness) -> None:
    await set_workspace(harness, digest_hour=7, digest_timezone="Asia/Tokyo")
    await add_sources(harness, {"account_id": "a", "name": "Acme", "expires_in": -1})
    # The workspace came at 08:00 UTC on 28 Nov, 17:00 in Tokyo: after that day's 07:00.
    # The next is due at 22:00 UTC, 07:00 on the 29th in Tokyo.
    at(harness, hour=21, minute=55)
    assert await harness.digest_due() == 0
    at(harness, hour=22, minute=0)
    assert await harness.digest_due() == 1
    assert digests(harness)[0]["text"] == "Sources digest 29 Nov: 1 expired"
