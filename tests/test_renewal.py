"""Renewal without a person, against each network's fake: windows, rotation, concurrency."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conftest import TEAM, Harness

from bot.services.importer import import_records, parse_records


async def import_live(h: Harness, fake: Any, account_id: str, name: str, **options: Any) -> int:
    """Import a source holding live tokens that the fake issued; return its id."""
    tokens = fake.issue_tokens(account_id, **options)
    record = {
        "network": fake.name,
        "account_id": account_id,
        "name": name,
        "access_token": tokens["access_token"],
        "expires_at": tokens["expires_at"].isoformat(),
        "workspace": TEAM,
    }
    if tokens.get("refresh_token"):
        record["refresh_token"] = tokens["refresh_token"]
    records = parse_records([record], h.services.ctx.catalogue)
    await import_records(h.services.ctx, h.services.workspaces, records)
    (source,) = [s for s in await h.services.sources.list(TEAM) if s.account_id == account_id]
    return source.id


async def test_x_renews_in_its_last_fifteen_minutes_once(network_bot: Any) -> None:
    async with network_bot("x") as (h, fake):
        fake.add_account("2244994945", "Acme on X")
        await import_live(h, fake, "2244994945", "Acme on X")
        (old_refresh,) = fake.issued_refresh_tokens("2244994945")

        h.clock.advance(timedelta(minutes=100))  # 20 minutes left: not yet
        assert (await h.services.scan.run()).renewed == []
        h.clock.advance(timedelta(minutes=10))  # 10 minutes left
        report = await h.services.scan.run()
        assert report.renewed == ["X · Acme on X"]
        assert fake.refresh_uses(old_refresh) == 1
        assert not fake.token_is_live(old_refresh)

        (source,) = await h.services.sources.list(TEAM)
        assert source.status == "active"
        assert source.expires_at == h.clock.now() + timedelta(hours=2)
        assert await h.rows("SELECT count(*) FROM credentials") == [(2,)]
