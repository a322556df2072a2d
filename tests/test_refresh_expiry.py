"""The refresh token's own death: where a network says when it comes (LinkedIn, TikTok,
Pinterest), it is stored, shown, and warned about at each warning threshold, since renewal
cannot prevent it and only a person can."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from api_support import new_key
from conftest import TEAM, Harness, blocks_text, reconnect_buttons
from fakes import slack_requests
from openapi_check import checked_api
from test_connect_networks import connect, newest_credential, notices, replies_to, source

from bot.status import long_date

ACCOUNT = ("acct-1", "Acme Corp")


def warnings(h: Harness) -> list[dict[str, Any]]:
    return [n for n in notices(h) if n["blocks"][0]["text"]["text"].startswith(":alarm_clock:")]


async def connected(h: Harness, fake: Any) -> Any:
    fake.add_account(*ACCOUNT)
    fake.login_as(ACCOUNT[0])
    assert (await connect(h, fake.name)).status_code == 200
    (only,) = await h.services.sources.list(TEAM)
    return only


@pytest.mark.parametrize(
    ("network", "options", "lifetime"),
    [
        ("linkedin", {"issue_refresh_tokens": True}, timedelta(days=365)),
        ("tiktok", {}, timedelta(seconds=31536000)),
        ("pinterest", {}, timedelta(seconds=31536000)),
    ],
)
async def test_each_network_that_says_when_its_refresh_token_dies_is_heard(
    network_bot: Any, network: str, options: dict[str, Any], lifetime: timedelta
) -> None:
    async with network_bot(network, **options) as (h, fake):
        info = await connected(h, fake)
        dies = h.clock.now() + lifetime
        assert info.refresh_expires_at == dies
        assert info.renews_at is not None and info.status == "active"
        rows = await h.rows("SELECT refresh_expires_at FROM credentials")
        assert len(rows) == 1 and rows[0][0] is not None

        listing = blocks_text(await h.command(""))
        assert f"its renewal ends {long_date(dies)}" in listing
        key = await new_key(h)
        async with checked_api(h, key) as api:
            shown = (await api.get(f"/api/v1/sources/{info.id}")).json()
        assert shown["refresh_token_expires_at"] == dies.isoformat()


async def test_a_network_that_says_nothing_leaves_it_unknown(network_bot: Any) -> None:
    async with network_bot("x") as (h, fake):
        info = await connected(h, fake)
        assert info.renews_at is not None and info.refresh_expires_at is None
        assert "its renewal ends" not in blocks_text(await h.command(""))


async def test_warned_at_each_threshold_before_the_refresh_token_dies(network_bot: Any) -> None:
    async with network_bot("linkedin", issue_refresh_tokens=True) as (h, fake):
        fake.refresh_lifetime = timedelta(days=30)  # access tokens live 60 days
        start = h.clock.now()
        info = await connected(h, fake)
        dies = start + timedelta(days=30)
        assert info.refresh_expires_at == dies

        h.clock.set(dies - timedelta(days=7, hours=1))
        assert (await h.scan()).warnings_queued == 0
        h.clock.set(dies - timedelta(days=7))
        assert (await h.scan()).warnings_queued == 1
        (seven,) = warnings(h)
        assert "stops renewing in 7 days (its refresh token expires on 28 Dec)" in blocks_text(
            seven
        )
        assert len(reconnect_buttons(seven)) == 1
        h.clock.advance(timedelta(days=3))
        assert (await h.scan()).warnings_queued == 0  # each threshold once

        listing = blocks_text(await h.command(""))
        assert ":alarm_clock: *LinkedIn · Acme Corp* — stops renewing in 4 days" in listing

        h.clock.set(dies - timedelta(days=1))
        assert (await h.scan()).warnings_queued == 1
        _, one = warnings(h)
        assert "stops renewing in 1 day" in blocks_text(one)

        events = await h.rows("SELECT payload FROM events WHERE type = 'source.expiring'")
        payloads = [p if isinstance(p, dict) else json.loads(p) for (p,) in events]
        assert payloads == [
            {"days": 7, "refresh_token_expires_at": dies.isoformat()},
            {"days": 1, "refresh_token_expires_at": dies.isoformat()},
        ]

        # Past its death the source no longer renews: its access token is what it has left,
        # and the usual warnings count down to that token's expiry.
        h.clock.set(dies + timedelta(hours=1))
        assert (await h.scan()).warnings_queued == 0
        after = await source(h, info.id)
        assert (after.status, after.renews_at) == ("active", None)
        assert "valid until 27 Jan" in blocks_text(await h.command(""))
        h.clock.set(start + timedelta(days=53))
        assert (await h.scan()).warnings_queued == 1
        assert "expires in 7 days" in blocks_text(warnings(h)[-1])
        assert fake.refresh_uses(fake.issued_refresh_tokens(ACCOUNT[0])[0]) == 0


async def test_reconnecting_from_the_warning_gives_a_new_refresh_token_and_new_warnings(
    network_bot: Any,
) -> None:
    async with network_bot("linkedin", issue_refresh_tokens=True) as (h, fake):
        fake.refresh_lifetime = timedelta(days=30)
        info = await connected(h, fake)
        h.clock.set(info.refresh_expires_at - timedelta(days=2))
        assert (await h.scan()).warnings_queued == 1
        (warning,) = warnings(h)

        link = await h.reconnect_link(warning, user="U2")
        async with h.browser() as browser:
            assert (await browser.get(link)).status_code == 200
        await h.drain()

        again = await source(h, info.id)
        assert again.status == "active"
        assert again.refresh_expires_at == h.clock.now() + timedelta(days=30)
        _, refresh, _ = await newest_credential(h, info.id)
        assert refresh == fake.issued_refresh_tokens(ACCOUNT[0])[-1]
        assert replies_to(h, warning["ts"])[0]["text"].startswith(
            "LinkedIn · Acme Corp reconnected by <@U2>"
        )
        h.clock.set(again.refresh_expires_at - timedelta(days=7))
        assert (await h.scan()).warnings_queued == 1


async def test_a_renewal_keeps_the_death_it_is_told(network_bot: Any) -> None:
    async with network_bot("tiktok") as (h, fake):
        fake.refresh_lifetime = timedelta(days=10)  # counted from the consent, not reset
        info = await connected(h, fake)
        first_refresh = fake.issued_refresh_tokens(ACCOUNT[0])[0]
        h.clock.advance(timedelta(days=3, hours=12))  # the access token ran out: renewed
        report = await h.scan()
        assert report.renewed == ["TikTok · Acme Corp"] and report.warnings_queued == 1
        renewed = await source(h, info.id)
        assert renewed.refresh_expires_at == info.refresh_expires_at
        _, refresh, _ = await newest_credential(h, info.id)
        assert refresh != first_refresh  # TikTok's refresh token rotates; its death does not
        assert "stops renewing in 6 days" in blocks_text(warnings(h)[0])


async def test_pinterest_refresh_on_moves_the_death_forward(network_bot: Any) -> None:
    async with network_bot("pinterest") as (h, fake):
        info = await connected(h, fake)
        h.clock.advance(timedelta(days=25))  # inside Pinterest's 7-day renewal window
        assert (await h.scan()).renewed == ["Pinterest · acmecorp"]  # its username
        renewed = await source(h, info.id)
        assert renewed.refresh_expires_at == h.clock.now() + timedelta(seconds=31536000)


async def test_the_app_home_says_when_renewal_ends(network_bot: Any) -> None:
    async with network_bot("linkedin", issue_refresh_tokens=True) as (h, fake):
        info = await connected(h, fake)
        body, _ = slack_requests.app_home_opened(user_id="U3", team_id=TEAM)
        assert (await h.send(body)).status_code == 200
        (publish,) = await h.slack.wait_for("views.publish")
        assert f"its renewal ends {long_date(info.refresh_expires_at)}" in blocks_text(
            publish.args["view"]
        )
