"""Connecting each network end to end, early warnings, the right account for pages, and
what `/sources` and the App Home say about each source's next renewal or expiry.

Everything goes through the real edges: signed Slack requests into the bot's ASGI app, the
browser helper that follows redirects between the bot and the fake network's HTTP server,
the fake Slack, and the test's frozen clock (which the fakes share).
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx2
import pytest
from conftest import (
    BOT_TOKEN,
    CHANNEL,
    ENCRYPTION_KEY,
    PUBLIC_URL,
    SIGNING_SECRET,
    TEAM,
    Harness,
    blocks_text,
    link_from,
    reconnect_buttons,
    running_bot,
)
from fakes import slack_requests
from fakes.networks import FAKES

from bot.clock import FrozenClock
from bot.logs import keep_secrets_out
from bot.services.importer import import_records, parse_records
from bot.status import long_date, short_date

# --- helpers ---------------------------------------------------------------------------------


async def connect(h: Harness, network: str, user: str = "U1") -> httpx2.Response:
    """Run `/sources connect <network>` as ``user`` and follow the link in a browser."""
    payload = await h.command(f"connect {network}", user=user)
    assert payload["response_type"] == "ephemeral"
    async with h.browser() as browser:
        return await browser.get(link_from(payload))


async def import_source(
    h: Harness,
    network: str,
    account_id: str,
    name: str,
    tokens: dict[str, Any],
    kind: str | None = None,
) -> int:
    """Import a source holding ``tokens`` (as a fake's ``issue_tokens`` gives them)."""
    record: dict[str, Any] = {
        "network": network,
        "account_id": account_id,
        "name": name,
        "access_token": tokens["access_token"],
        "expires_at": tokens["expires_at"].isoformat(),
        "workspace": TEAM,
    }
    if kind is not None:
        record["kind"] = kind
    if tokens.get("refresh_token"):
        record["refresh_token"] = tokens["refresh_token"]
    records = parse_records([record], h.services.ctx.catalogue)
    await import_records(h.services.ctx, h.services.workspaces, records)
    (source,) = [
        s
        for s in await h.services.sources.list(TEAM)
        if s.network == network and s.account_id == account_id
    ]
    return int(source.id)


async def source(h: Harness, source_id: int) -> Any:
    info = await h.services.sources.get(TEAM, source_id)
    assert info is not None
    return info


async def newest_credential(h: Harness, source_id: int) -> tuple[str, str | None, Any]:
    """(access token, refresh token, expires_at) of the source's newest credential, decrypted."""
    ((access, refresh, expires_at),) = await h.rows(
        "SELECT access_token, refresh_token, expires_at FROM credentials "
        "WHERE source_id = :id ORDER BY id DESC LIMIT 1",
        id=source_id,
    )
    cipher = h.services.ctx.cipher
    return cipher.decrypt(access), cipher.decrypt(refresh) if refresh else None, expires_at


async def credential_ids(h: Harness) -> list[Any]:
    return await h.rows("SELECT id FROM credentials ORDER BY id")


def posts_to(h: Harness, channel: str) -> list[Any]:
    return [c for c in h.slack.successful_calls("chat.postMessage") if c.args["channel"] == channel]


def notices(h: Harness) -> list[dict[str, Any]]:
    """Top-level messages in the notice channel (not thread replies), with their ts."""
    return [
        c.args | {"ts": c.response["ts"]}
        for c in posts_to(h, CHANNEL)
        if not c.args.get("thread_ts")
    ]


def replies_to(h: Harness, ts: str) -> list[dict[str, Any]]:
    return [c.args for c in posts_to(h, CHANNEL) if c.args.get("thread_ts") == ts]


async def reconnect_from(h: Harness, notice: dict[str, Any], user: str = "U2") -> httpx2.Response:
    link = await h.reconnect_link(notice, user)
    async with h.browser() as browser:
        page = await browser.get(link)
    await h.drain()  # the confirmation goes out through the outbox
    return page


async def expire_by_scan(h: Harness, days: int = 1) -> dict[str, Any]:
    """Advance the clock, scan, and return the expiry notice that the scan posted."""
    h.clock.advance(timedelta(days=days))
    report = await h.scan()
    assert report.notices_queued == 1, report.summary()
    return notices(h)[-1]


def basic_auth(authorization: str | None) -> tuple[str, str]:
    assert authorization is not None and authorization.startswith("Basic ")
    user, _, password = (
        base64.b64decode(authorization.removeprefix("Basic ")).decode().partition(":")
    )
    return user, password


# --- 1. /sources connect <network>, for all seven ---------------------------------------------


@dataclass(frozen=True)
class Case:
    network: str
    account_id: str  # what the network's identity endpoint calls the account
    person: str  # the account's name at the fake
    stored_name: str  # the name the bot keeps (Instagram and Pinterest: the username)
    lifetime: timedelta  # of the stored access token
    renews: bool
    separator: str
    kind: str = "account"
    extra: dict[str, Any] = field(default_factory=dict)
    channel: tuple[str, str] | None = None  # YouTube: (channel id, title)


CASES = [
    Case("linkedin", "Zx8pLq-3f", "Ada Lovelace", "Ada Lovelace", timedelta(days=60), False, " "),
    Case(
        "x",
        "2244994945",
        "Acme Corp",
        "Acme Corp",
        timedelta(hours=2),
        True,
        " ",
        extra={"username": "AcmeCorpHQ"},
    ),
    Case(
        "facebook",
        "100042",
        "Fay Book",
        "Fay Book",
        timedelta(seconds=5183944),
        True,
        ",",
    ),
    Case(
        "instagram",
        "17841405822304914",
        "Acme Studio",
        "acme.studio",
        timedelta(days=60),
        True,
        ",",
        extra={"username": "acme.studio"},
    ),
    Case(
        "youtube",
        "UC_x5XG1OV2P6uZZ5FSM9Ttw",
        "Google Person",
        "Acme TV",
        timedelta(seconds=3599),
        True,
        " ",
        kind="channel",
        extra={"channel": False},
        channel=("UC_x5XG1OV2P6uZZ5FSM9Ttw", "Acme TV"),
    ),
    Case(
        "tiktok",
        "-000OmAgaDGb9Q7H3ddH",
        "Acme Tok",
        "Acme Tok",
        timedelta(hours=24),
        True,
        ",",
    ),
    Case(
        "pinterest",
        "549755885175",
        "Acme Pins",
        "acmepins",
        timedelta(days=30),
        True,
        ",",
        extra={"username": "acmepins"},
    ),
]


def fake_account(case: Case) -> str:
    """The account at the fake: for YouTube the Google account that owns the channel."""
    return "google-sub-1" if case.channel else case.account_id


def add_person(fake: Any, case: Case) -> str:
    """Add the case's account to the fake and sign it in; return the fake's account id."""
    fake_id = fake_account(case)
    fake.add_account(fake_id, case.person, **case.extra)
    if case.channel:
        fake.add_channel(fake_id, *case.channel)
    fake.login_as(fake_id)
    return fake_id


@pytest.mark.parametrize("case", CASES, ids=[c.network for c in CASES])
async def test_connect_end_to_end(network_bot: Any, case: Case) -> None:
    async with network_bot(case.network) as (h, fake):
        add_person(fake, case)
        page = await connect(h, case.network, user="U1")
        connected_at = h.clock.now()
        title = h.services.ctx.catalogue.title(case.network)
        label = f"{title} · {case.stored_name}"

        assert page.status_code == 200, page.text
        assert f"{label} is connected" in page.text

        # The network saw the bot's real authorize request: its scopes, its separator, the
        # callback URL and a state.
        (authorize,) = fake.authorize_requests
        scopes = h.services.ctx.catalogue.get(case.network).scopes
        assert h.services.ctx.catalogue.get(case.network).scope_separator == case.separator
        assert authorize["scope"] == case.separator.join(scopes)
        assert authorize["redirect_uri"] == f"{PUBLIC_URL}/oauth/callback/{case.network}"
        assert len(authorize["state"]) >= 32

        # Stored with the network's stable account id, its name, active, expiring when the
        # network said.
        (stored,) = await h.services.sources.list(TEAM)
        assert (stored.network, stored.account_id, stored.name, stored.status) == (
            case.network,
            case.account_id,
            case.stored_name,
            "active",
        )
        assert stored.kind == case.kind
        assert stored.connected_by == "U1"
        assert stored.expires_at == connected_at + case.lifetime
        access, _, _ = await newest_credential(h, stored.id)
        assert access in fake.issued_access_tokens(fake_account(case))

        # /sources says when it renews by itself, or until when it is valid.
        listing = blocks_text(await h.command(""))
        assert label in listing
        if case.renews:
            network = h.services.ctx.catalogue.get(case.network)
            renews_at = max(stored.expires_at - network.renew_before, h.clock.now())
            assert stored.renews_at is not None
            assert f"renews by itself around {short_date(renews_at)}" in listing
            assert "valid until" not in listing
        else:
            assert stored.renews_at is None
            assert f"valid until {short_date(stored.expires_at)}" in listing
            assert "renews by itself" not in listing

        # The person who connected it is told in a DM (through the outbox: drained, so the
        # check does not race the background dispatcher).
        await h.drain()
        (dm,) = posts_to(h, "U1")
        assert dm.args["text"].startswith(f"{label} is connected.")


async def test_x_uses_pkce_basic_auth_and_offline_access(network_bot: Any) -> None:
    async with network_bot("x") as (h, fake):
        fake.add_account("2244994945", "Acme Corp", username="AcmeCorpHQ")
        assert (await connect(h, "x")).status_code == 200

        (authorize,) = fake.authorize_requests
        assert authorize["code_challenge_method"] == "S256"
        assert len(authorize["code_challenge"]) == 43  # base64url of a SHA-256, unpadded
        assert "offline.access" in authorize["scope"].split(" ")

        (token,) = [r for r in fake.requests if r.key == "token"]
        assert token.method == "POST"
        assert basic_auth(token.authorization) == (fake.client_id, fake.client_secret)
        assert "client_secret" not in token.params
        assert token.params["grant_type"] == "authorization_code"
        assert token.params["code_verifier"]

        # offline.access gave a refresh token, so X renews by itself; the account id is
        # data.id, never the username.
        (stored,) = await h.services.sources.list(TEAM)
        assert stored.account_id == "2244994945" and stored.account_id != "AcmeCorpHQ"
        _, refresh, _ = await newest_credential(h, stored.id)
        assert refresh == fake.issued_refresh_tokens("2244994945")[-1]
        assert stored.renews_at == stored.expires_at - timedelta(minutes=15)


async def test_tiktok_names_the_client_client_key(network_bot: Any) -> None:
    async with network_bot("tiktok") as (h, fake):
        fake.add_account("-000OmAgaDGb9Q7H3ddH", "Acme Tok")
        assert (await connect(h, "tiktok")).status_code == 200

        (authorize,) = fake.authorize_requests
        assert authorize["client_key"] == fake.client_id
        assert "client_id" not in authorize
        (token,) = fake.token_requests
        assert token["client_key"] == fake.client_id
        assert token["client_secret"] == fake.client_secret
        assert "client_id" not in token
        assert token["grant_type"] == "authorization_code"

        (stored,) = await h.services.sources.list(TEAM)
        assert stored.account_id == "-000OmAgaDGb9Q7H3ddH"  # open_id
        _, refresh, _ = await newest_credential(h, stored.id)
        assert refresh == fake.issued_refresh_tokens("-000OmAgaDGb9Q7H3ddH")[-1]


async def test_youtube_asks_for_offline_access_with_consent(network_bot: Any) -> None:
    async with network_bot("youtube") as (h, fake):
        fake.add_account("google-sub-1", "Google Person", channel=False)
        fake.add_channel("google-sub-1", "UC_x5XG1OV2P6uZZ5FSM9Ttw", "Acme TV")
        assert (await connect(h, "youtube")).status_code == 200

        (authorize,) = fake.authorize_requests
        assert authorize["access_type"] == "offline"
        assert authorize["prompt"] == "consent"
        assert authorize["code_challenge_method"] == "S256"
        (token,) = fake.token_requests
        assert token["client_id"] == fake.client_id
        assert token["client_secret"] == fake.client_secret
        assert token["code_verifier"]

        (stored,) = await h.services.sources.list(TEAM)
        assert (stored.account_id, stored.name, stored.kind) == (
            "UC_x5XG1OV2P6uZZ5FSM9Ttw",
            "Acme TV",
            "channel",
        )
        _, refresh, _ = await newest_credential(h, stored.id)
        assert refresh == fake.issued_refresh_tokens("google-sub-1")[-1]


async def test_facebook_get_exchange_then_long_lived_token(network_bot: Any) -> None:
    async with network_bot("facebook") as (h, fake):
        fake.add_account("100042", "Fay Book")
        assert (await connect(h, "facebook")).status_code == 200

        code_exchange, long_lived = [r for r in fake.requests if r.key == "token"]
        assert code_exchange.method == "GET"
        assert code_exchange.params["client_id"] == fake.client_id
        assert code_exchange.params["client_secret"] == fake.client_secret
        assert code_exchange.params["code"]
        assert code_exchange.authorization is None
        short_lived, kept = fake.issued_access_tokens("100042")
        assert long_lived.method == "GET"
        assert long_lived.params["grant_type"] == "fb_exchange_token"
        assert long_lived.params["fb_exchange_token"] == short_lived
        assert long_lived.params["client_secret"] == fake.client_secret

        (stored,) = await h.services.sources.list(TEAM)
        access, refresh, _ = await newest_credential(h, stored.id)
        assert (access, refresh) == (kept, None)
        assert fake.token(short_lived).expires_at == h.clock.now() + timedelta(hours=1)
        assert stored.expires_at == h.clock.now() + timedelta(seconds=5183944)  # ~60 days


async def test_instagram_short_lived_token_is_exchanged_for_a_long_lived_one(
    network_bot: Any,
) -> None:
    async with network_bot("instagram") as (h, fake):
        fake.add_account("17841405822304914", "Acme Studio", username="acme.studio")
        assert (await connect(h, "instagram")).status_code == 200

        code_exchange, exchange = fake.token_requests
        assert code_exchange["grant_type"] == "authorization_code"
        assert code_exchange["client_id"] == fake.client_id
        short_lived, kept = fake.issued_access_tokens("17841405822304914")
        assert exchange["grant_type"] == "ig_exchange_token"
        assert exchange["access_token"] == short_lived
        assert exchange["client_secret"] == fake.client_secret

        (stored,) = await h.services.sources.list(TEAM)
        assert stored.account_id == "17841405822304914"  # user_id (a JSON number at the API)
        access, _, _ = await newest_credential(h, stored.id)
        assert access == kept
        assert stored.expires_at == h.clock.now() + timedelta(days=60)


async def test_pinterest_uses_basic_auth_and_comma_scopes(network_bot: Any) -> None:
    async with network_bot("pinterest") as (h, fake):
        fake.add_account("549755885175", "Acme Pins", username="acmepins")
        assert (await connect(h, "pinterest")).status_code == 200
        (authorize,) = fake.authorize_requests
        assert authorize["scope"] == "user_accounts:read,boards:read,pins:read"
        (token,) = [r for r in fake.requests if r.key == "token"]
        assert basic_auth(token.authorization) == (fake.client_id, fake.client_secret)
        assert "client_secret" not in token.params


# --- 2. early warnings for sources that cannot renew themselves -------------------------------


def warnings(h: Harness) -> list[dict[str, Any]]:
    return [n for n in notices(h) if n["blocks"][0]["text"]["text"].startswith(":alarm_clock:")]


async def scan(h: Harness) -> Any:
    return await h.scan()


async def test_warnings_at_seven_and_one_day_each_once(network_bot: Any) -> None:
    async with network_bot("linkedin") as (h, fake):
        fake.add_account("Zx8pLq-3f", "Ada Lovelace")
        tokens = fake.issue_tokens("Zx8pLq-3f", lifetime=timedelta(days=10), refresh=False)
        source_id = await import_source(h, "linkedin", "Zx8pLq-3f", "Ada Lovelace", tokens)
        assert (await source(h, source_id)).renews_at is None
        assert h.services.ctx.settings.expiry_warning_days == (7, 1)  # the default

        assert (await scan(h)).warnings_queued == 0  # 10 days left
        h.clock.advance(timedelta(days=2, hours=23))
        assert (await scan(h)).warnings_queued == 0  # 7 days and an hour left
        assert warnings(h) == []

        h.clock.advance(timedelta(hours=1))  # 7 days left
        assert (await scan(h)).warnings_queued == 1
        (seven,) = warnings(h)
        assert seven["channel"] == CHANNEL
        assert seven["blocks"][0]["type"] == "header"
        assert seven["blocks"][0]["text"]["text"] == ":alarm_clock: 1 connection expires soon"
        assert "expires soon" in seven["text"] and "LinkedIn · Ada Lovelace" in seven["text"]
        text = blocks_text(seven)
        assert "expires in 7 days" in text
        (button,) = reconnect_buttons(seven)
        assert button["action_id"] == "reconnect_source" and button["value"] == str(source_id)

        for _ in range(3):  # further scans, over the following days, do not repeat it
            h.clock.advance(timedelta(days=1, hours=-1))
            assert (await scan(h)).warnings_queued == 0
        assert len(warnings(h)) == 1

        h.clock.set(tokens["expires_at"] - timedelta(days=1, hours=1))
        assert (await scan(h)).warnings_queued == 0  # 25 hours left
        h.clock.advance(timedelta(hours=1))  # 1 day left
        assert (await scan(h)).warnings_queued == 1
        _, one = warnings(h)
        assert "expires in 1 day" in blocks_text(one)
        assert len(reconnect_buttons(one)) == 1
        h.clock.advance(timedelta(hours=12))
        assert (await scan(h)).warnings_queued == 0
        assert len(warnings(h)) == 2
        assert (await source(h, source_id)).status == "expiring"


async def test_source_connected_with_hours_left_gets_only_the_one_day_warning(
    network_bot: Any,
) -> None:
    async with network_bot("linkedin") as (h, fake):
        fake.add_account("Zx8pLq-3f", "Ada Lovelace")
        fake.access_lifetime = timedelta(hours=12)
        assert (await connect(h, "linkedin")).status_code == 200
        (stored,) = await h.services.sources.list(TEAM)
        assert stored.expires_at == h.clock.now() + timedelta(hours=12)

        assert (await scan(h)).warnings_queued == 1
        (warning,) = warnings(h)
        assert "expires in 12 hours" in blocks_text(warning)
        for _ in range(3):
            h.clock.advance(timedelta(hours=3))
            assert (await scan(h)).warnings_queued == 0
        assert len(warnings(h)) == 1
        rows = await h.rows("SELECT key FROM notice_items")
        assert [key for (key,) in rows] == [f"warn1:{int(stored.expires_at.timestamp())}"]


async def test_reconnect_from_warning_confirms_in_its_thread_and_warns_again_later(
    network_bot: Any,
) -> None:
    async with network_bot("linkedin") as (h, fake):
        fake.add_account("Zx8pLq-3f", "Ada Lovelace")
        tokens = fake.issue_tokens("Zx8pLq-3f", lifetime=timedelta(days=7), refresh=False)
        source_id = await import_source(h, "linkedin", "Zx8pLq-3f", "Ada Lovelace", tokens)
        assert (await scan(h)).warnings_queued == 1
        (warning,) = warnings(h)

        h.clock.advance(timedelta(days=2))
        page = await reconnect_from(h, warning, user="U2")
        assert page.status_code == 200 and "reconnected" in page.text
        reconnected_at = h.clock.now()

        restored = await source(h, source_id)
        assert restored.status == "active"
        assert restored.expires_at == reconnected_at + timedelta(days=60)
        assert restored.restored_by == "U2"
        access, _, _ = await newest_credential(h, source_id)
        assert access == fake.issued_access_tokens("Zx8pLq-3f")[-1] != tokens["access_token"]

        (reply,) = replies_to(h, warning["ts"])
        assert reply["text"] == (
            f"LinkedIn · Ada Lovelace reconnected by <@U2>, valid until "
            f"{long_date(reconnected_at + timedelta(days=60))}"
        )
        (update,) = h.slack.successful_calls("chat.update")
        assert update.args["ts"] == warning["ts"]
        assert "All reconnected" in blocks_text(update.args)
        assert "reconnected by <@U2>" in blocks_text(update.args)
        assert reconnect_buttons(update.args) == []

        # The new token is quiet until it, too, is a week from its expiry.
        h.clock.advance(timedelta(days=52))
        assert (await scan(h)).warnings_queued == 0
        h.clock.set(restored.expires_at - timedelta(days=7))
        assert (await scan(h)).warnings_queued == 1
        assert (await scan(h)).warnings_queued == 0
        h.clock.set(restored.expires_at - timedelta(days=1))
        assert (await scan(h)).warnings_queued == 1
        first, second, third = warnings(h)
        assert first["ts"] == warning["ts"]
        assert "expires in 7 days" in blocks_text(second)
        assert "expires in 1 day" in blocks_text(third)


async def test_renewable_source_whose_renewal_keeps_failing_gets_a_warning(
    network_bot: Any,
) -> None:
    async with network_bot("linkedin", issue_refresh_tokens=True) as (h, fake):
        fake.add_account("Zx8pLq-3f", "Ada Lovelace")
        tokens = fake.issue_tokens("Zx8pLq-3f", lifetime=timedelta(days=8))
        source_id = await import_source(h, "linkedin", "Zx8pLq-3f", "Ada Lovelace", tokens)
        assert (await source(h, source_id)).renews_at is not None

        assert (await scan(h)).warnings_queued == 0  # 8 days left: renews by itself later
        fake.fail("refresh", status=503, times=1000)
        h.clock.advance(timedelta(days=1, minutes=1))  # inside the 7-day renewal window
        report = await scan(h)
        assert report.renewed == [] and len(report.transient) == 1
        assert (await source(h, source_id)).status == "expiring"
        # Quiet on blips (issue 9): nothing is posted until the failures last an hour.
        assert report.warnings_queued == 0
        h.clock.advance(timedelta(hours=1))
        assert (await scan(h)).warnings_queued == 1
        (warning,) = warnings(h)
        assert "LinkedIn · Ada Lovelace" in warning["text"]
        assert "Renewal failing" in blocks_text(warning)
        assert len(reconnect_buttons(warning)) == 1

        h.clock.advance(timedelta(hours=1))
        assert (await scan(h)).warnings_queued == 0


async def test_healthy_renewable_source_gets_no_warning(network_bot: Any) -> None:
    async with network_bot("x") as (h, fake):
        fake.add_account("2244994945", "Acme Corp")
        tokens = fake.issue_tokens("2244994945")
        source_id = await import_source(h, "x", "2244994945", "Acme Corp", tokens)
        renewed = 0
        for _ in range(24):  # two days of scans every two hours: X renews every time
            h.clock.advance(timedelta(minutes=110))
            report = await scan(h)
            renewed += len(report.renewed)
            assert report.warnings_queued == 0 and report.notices_queued == 0
        assert renewed == 24
        assert (await source(h, source_id)).status == "active"
        assert notices(h) == []


# --- 3. the right account for pages, organizations and channels -------------------------------

ORG = ("2414183", "Acme Corp")


async def expired_organization(h: Harness, fake: Any) -> tuple[int, dict[str, Any]]:
    """A LinkedIn organization source imported with its admin's token, then expired."""
    fake.add_account("member-ada", "Ada Admin")
    fake.add_organization("member-ada", *ORG)
    tokens = fake.issue_tokens("member-ada", lifetime=timedelta(days=1), refresh=False)
    source_id = await import_source(h, "linkedin", *ORG, tokens, kind="organization")
    notice = await expire_by_scan(h, days=2)
    assert (await source(h, source_id)).status == "expired"
    return source_id, notice


async def test_linkedin_organization_reconnected_by_an_administrator(network_bot: Any) -> None:
    async with network_bot("linkedin") as (h, fake):
        source_id, notice = await expired_organization(h, fake)
        fake.add_account("member-bo", "Bo Admin")
        fake.add_organization("member-bo", *ORG)
        fake.add_organization("member-bo", "999", "Bo's Bakery")
        fake.login_as("member-bo")

        page = await reconnect_from(h, notice, user="U2")
        assert page.status_code == 200 and "LinkedIn · Acme Corp is reconnected" in page.text

        (authorize,) = fake.authorize_requests
        assert authorize["scope"].split(" ") == ["openid", "profile", "rw_organization_admin"]
        acls = [r for r in fake.requests if r.key == "organizations"]
        assert len(acls) == 1 and acls[0].params["role"] == "ADMINISTRATOR"

        restored = await source(h, source_id)
        assert (restored.status, restored.account_id, restored.name) == ("active", *ORG)
        assert restored.kind == "organization"
        access, _, _ = await newest_credential(h, source_id)
        assert access == fake.issued_access_tokens("member-bo")[-1]

        (reply,) = replies_to(h, notice["ts"])
        assert reply["text"].startswith("LinkedIn · Acme Corp reconnected by <@U2>")
        (update,) = h.slack.successful_calls("chat.update")
        assert update.args["ts"] == notice["ts"] and "All reconnected" in blocks_text(update.args)


async def test_linkedin_organization_refuses_a_member_who_is_not_its_admin(
    network_bot: Any,
) -> None:
    async with network_bot("linkedin") as (h, fake):
        source_id, notice = await expired_organization(h, fake)
        fake.add_account("member-cy", "Cy Analyst")
        fake.add_organization("member-cy", *ORG, role="ANALYST")
        fake.add_organization("member-cy", "777", "Cy's Coffee")
        fake.add_organization("member-cy", "778", "Cy's Cycles")
        fake.login_as("member-cy")
        before = await credential_ids(h)

        page = await reconnect_from(h, notice, user="U3")
        assert page.status_code == 409
        assert "Cy Analyst" in page.text and "Acme Corp" in page.text

        assert await credential_ids(h) == before
        unchanged = await source(h, source_id)
        assert (unchanged.status, unchanged.name, unchanged.connected_by) == (
            "expired",
            "Acme Corp",
            None,
        )
        (reply,) = replies_to(h, notice["ts"])
        text = blocks_text(reply)
        assert "Cy Analyst" in text and "doesn't manage *LinkedIn · Acme Corp*" in text
        assert "(it reaches: " in text and "(it reaches: none)" not in text
        assert "Nothing was changed" in text
        assert h.slack.successful_calls("chat.update") == []


async def test_linkedin_wrong_member_is_told_the_organizations_by_name(network_bot: Any) -> None:
    async with network_bot("linkedin") as (h, fake):
        _, notice = await expired_organization(h, fake)
        fake.add_account("member-cy", "Cy Analyst")
        fake.add_organization("member-cy", "777", "Cy's Coffee")
        fake.add_organization("member-cy", "778", "Cy's Cycles")
        fake.login_as("member-cy")
        assert (await reconnect_from(h, notice, user="U3")).status_code == 409
        (reply,) = replies_to(h, notice["ts"])
        assert "(it reaches: *Cy's Coffee*, *Cy's Cycles*)" in blocks_text(reply)


@pytest.mark.parametrize("network", ["linkedin", "facebook"])
async def test_wrong_login_page_names_what_the_login_reaches(
    network_bot: Any, network: str
) -> None:
    async with network_bot(network) as (h, fake):
        if network == "linkedin":
            _, notice = await expired_organization(h, fake)
            fake.add_account("member-cy", "Cy Analyst")
            fake.add_organization("member-cy", "777", "Cy's Coffee")
            fake.login_as("member-cy")
            reached = "Cy's Coffee"
        else:
            _, notice = await expired_facebook_page(h, fake)
            fake.add_account("200002", "Dee Stranger")
            fake.add_page("200002", "pg-other", "Dee's Diner")
            fake.login_as("200002")
            reached = "Dee's Diner"
        page = await reconnect_from(h, notice)
        assert page.status_code == 409
        assert reached.replace("'", "&#x27;") in page.text or reached in page.text


PAGE = ("1122334455", "Acme Page")


async def expired_facebook_page(h: Harness, fake: Any) -> tuple[int, dict[str, Any]]:
    """A Facebook page source holding its page token, revoked at Facebook and found dead."""
    fake.add_account("100042", "Fay Book")
    fake.add_page("100042", *PAGE)
    tokens = fake.issue_tokens("100042")
    page_token = {**tokens, "access_token": tokens["page_tokens"][PAGE[0]]}
    source_id = await import_source(h, "facebook", *PAGE, page_token, kind="page")
    assert (await scan(h)).expired == []  # the page token works
    fake.revoke("100042")
    notice = await expire_by_scan(h, days=1)
    assert (await source(h, source_id)).status in ("expired", "revoked")
    return source_id, notice


async def test_facebook_page_reconnect_stores_the_page_token(network_bot: Any) -> None:
    async with network_bot("facebook") as (h, fake):
        source_id, notice = await expired_facebook_page(h, fake)
        fake.add_account("100077", "Gus Manager")
        fake.add_page("100077", *PAGE)
        fake.login_as("100077")

        page = await reconnect_from(h, notice, user="U2")
        assert page.status_code == 200, page.text
        assert "Facebook · Acme Page is reconnected" in page.text

        user_token = fake.issued_access_tokens("100077")[-1]  # the long-lived one
        assert fake.token(user_token).long_lived
        page_token = fake.page_tokens("100077", user_token)[PAGE[0]]
        access, refresh, expires_at = await newest_credential(h, source_id)
        assert (access, refresh, expires_at) == (page_token, None, None)
        assert access != user_token

        restored = await source(h, source_id)
        assert (restored.status, restored.account_id, restored.expires_at) == (
            "active",
            PAGE[0],
            None,
        )
        assert restored.renews_at is None
        listing = blocks_text(await h.command("facebook"))
        assert "Facebook · Acme Page — does not expire" in listing
        (reply,) = replies_to(h, notice["ts"])
        assert reply["text"].startswith("Facebook · Acme Page reconnected by <@U2>")
        assert "valid until" not in reply["text"]

        # The stored page token is what the bot now shows Facebook, and it works.
        h.clock.advance(timedelta(days=2))
        report = await scan(h)
        assert report.expired == [] and report.transient == []
        me = [r for r in fake.requests if r.key == "userinfo"][-1]
        assert me.authorization == f"Bearer {page_token}"


async def test_facebook_page_refuses_a_person_who_does_not_manage_it(network_bot: Any) -> None:
    async with network_bot("facebook") as (h, fake):
        source_id, notice = await expired_facebook_page(h, fake)
        status_before = (await source(h, source_id)).status
        fake.add_account("200002", "Dee Stranger")
        fake.add_page("200002", "pg-other", "Dee's Diner")
        fake.login_as("200002")
        before = await credential_ids(h)

        page = await reconnect_from(h, notice, user="U3")
        assert page.status_code == 409 and "Dee Stranger" in page.text

        assert await credential_ids(h) == before
        unchanged = await source(h, source_id)
        assert unchanged.status == status_before and unchanged.name == "Acme Page"
        (reply,) = replies_to(h, notice["ts"])
        text = blocks_text(reply)
        assert "Dee Stranger" in text and "it reaches: *Dee's Diner*" in text


async def expired_youtube_channel(h: Harness, fake: Any) -> tuple[int, dict[str, Any]]:
    fake.add_account("g-owner", "Owner Person", channel=False)
    fake.add_channel("g-owner", "UCacmeTV", "Acme TV")
    tokens = fake.issue_tokens("g-owner")
    source_id = await import_source(h, "youtube", "UCacmeTV", "Acme TV", tokens, kind="channel")
    fake.revoke("g-owner")
    notice = await expire_by_scan(h, days=1)
    assert (await source(h, source_id)).status in ("expired", "revoked")
    return source_id, notice


async def test_youtube_channel_restored_by_a_login_that_owns_it(network_bot: Any) -> None:
    async with network_bot("youtube") as (h, fake):
        source_id, notice = await expired_youtube_channel(h, fake)
        fake.add_account("g-brand", "Brand Manager")  # owns its own channel first
        fake.add_channel("g-brand", "UCacmeTV", "Acme TV")
        fake.login_as("g-brand")

        page = await reconnect_from(h, notice, user="U2")
        assert page.status_code == 200, page.text
        restored = await source(h, source_id)
        assert (restored.status, restored.account_id) == ("active", "UCacmeTV")
        access, refresh, _ = await newest_credential(h, source_id)
        assert access == fake.issued_access_tokens("g-brand")[-1]
        assert refresh == fake.issued_refresh_tokens("g-brand")[-1]
        assert replies_to(h, notice["ts"])[0]["text"].startswith(
            "YouTube · Acme TV reconnected by <@U2>"
        )


async def test_youtube_channel_refuses_a_login_without_it(network_bot: Any) -> None:
    async with network_bot("youtube") as (h, fake):
        source_id, notice = await expired_youtube_channel(h, fake)
        fake.add_account("g-other", "Other Person", channel=False)
        fake.add_channel("g-other", "UCotherTV", "Other TV")
        fake.login_as("g-other")
        before = await credential_ids(h)

        page = await reconnect_from(h, notice, user="U3")
        assert page.status_code == 409
        assert await credential_ids(h) == before
        assert (await source(h, source_id)).status in ("expired", "revoked")
        (reply,) = replies_to(h, notice["ts"])
        assert "it reaches: *Other TV*" in blocks_text(reply)


# --- 4. connected as --------------------------------------------------------------------------


async def test_sources_and_thread_say_whose_login_restored_the_organization(
    network_bot: Any,
) -> None:
    async with network_bot("linkedin") as (h, fake):
        await expired_organization(h, fake)
        notice = notices(h)[-1]
        fake.add_account("member-bo", "Bo Admin")
        fake.add_organization("member-bo", *ORG)
        fake.login_as("member-bo")
        assert (await reconnect_from(h, notice, user="U2")).status_code == 200

        (reply,) = replies_to(h, notice["ts"])
        assert "LinkedIn · Acme Corp reconnected by <@U2> (signed in as Bo Admin)" in reply["text"]
        listing = blocks_text(await h.command(""))
        assert "LinkedIn · Acme Corp — valid until" in listing
        assert "connected as Bo Admin by <@U2>" in listing


# --- 5. /sources and the App Home show the next renewal or expiry -----------------------------


@contextlib.asynccontextmanager
async def every_network(
    database_url: str, slack: Any, clock: FrozenClock
) -> AsyncIterator[tuple[Harness, dict[str, Any]]]:
    """The bot with all seven fake networks configured."""
    fakes = {name: cls() for name, cls in FAKES.items()}
    async with contextlib.AsyncExitStack() as stack:
        env = {
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_API_URL": slack.api_url,
            "SLACK_NOTIFY_CHANNEL": CHANNEL,
            "DATABASE_URL": database_url,
            "PUBLIC_URL": PUBLIC_URL,
            "TOKEN_ENCRYPTION_KEY": ENCRYPTION_KEY,
        }
        for fake in fakes.values():
            fake.now = clock.now
            await stack.enter_async_context(fake)
            env.update(fake.env())
        h = await stack.enter_async_context(running_bot(env, slack, fakes["linkedin"], clock))
        await h.services.workspaces.ensure(TEAM, "Acme")
        yield h, fakes


def expected_lines(now: datetime) -> dict[str, str]:
    """What /sources and the App Home say after the sources of ``mixed_sources`` (at START)."""
    return {
        "X · Acme Corp": f"renews by itself around {short_date(now)}",  # X: within 2 hours
        "LinkedIn · Ada Lovelace": "valid until 27 Jan",  # 60 days, no refresh token
        "LinkedIn · Partner Co": "renews by itself around 20 Jan",  # refresh token, 7 days early
        "Facebook · Acme Page": "does not expire",  # a page token
        "Instagram · acme.studio": "renews by itself around 20 Jan",
        "Pinterest · acmepins": "renews by itself around 21 Dec",  # 30 days, 7 days early
        "TikTok · Acme Tok": "renews by itself around 29 Nov",  # 24 hours, 1 hour early
    }


async def mixed_sources(h: Harness, fakes: dict[str, Any]) -> None:
    x, linkedin, facebook = fakes["x"], fakes["linkedin"], fakes["facebook"]
    x.add_account("2244994945", "Acme Corp")
    await import_source(h, "x", "2244994945", "Acme Corp", x.issue_tokens("2244994945"))
    linkedin.add_account("Zx8pLq-3f", "Ada Lovelace")
    linkedin.add_account("partner-1", "Partner Co")
    await import_source(
        h,
        "linkedin",
        "Zx8pLq-3f",
        "Ada Lovelace",
        linkedin.issue_tokens("Zx8pLq-3f", refresh=False),
    )
    await import_source(
        h, "linkedin", "partner-1", "Partner Co", linkedin.issue_tokens("partner-1")
    )
    facebook.add_account("100042", "Fay Book")
    facebook.add_page("100042", *PAGE)
    tokens = facebook.issue_tokens("100042")
    source_id = await import_source(
        h,
        "facebook",
        *PAGE,
        {**tokens, "access_token": tokens["page_tokens"][PAGE[0]]},
        kind="page",
    )
    # A page token does not expire: reconnecting the page through the browser stores it so.
    facebook.login_as("100042")
    link = await h.services.links.start(TEAM, "U1", "", source_id)
    async with h.browser() as browser:
        assert (await browser.get(link.url)).status_code == 200
    instagram, pinterest, tiktok = fakes["instagram"], fakes["pinterest"], fakes["tiktok"]
    instagram.add_account("17841405822304914", "Acme Studio", username="acme.studio")
    await import_source(
        h,
        "instagram",
        "17841405822304914",
        "acme.studio",
        instagram.issue_tokens("17841405822304914"),
    )
    pinterest.add_account("549755885175", "Acme Pins", username="acmepins")
    await import_source(
        h, "pinterest", "549755885175", "acmepins", pinterest.issue_tokens("549755885175")
    )
    tiktok.add_account("-000OmAgaDGb9Q7H3ddH", "Acme Tok")
    await import_source(
        h, "tiktok", "-000OmAgaDGb9Q7H3ddH", "Acme Tok", tiktok.issue_tokens("-000OmAgaDGb9Q7H3ddH")
    )


async def test_sources_shows_each_sources_next_renewal_or_expiry(
    database_url: str, slack: Any, clock: FrozenClock
) -> None:
    async with every_network(database_url, slack, clock) as (h, fakes):
        await mixed_sources(h, fakes)
        listing = blocks_text(await h.command(""))
        for label, detail in expected_lines(h.clock.now()).items():
            assert f"{label} — {detail}" in listing, (label, listing)


async def test_app_home_shows_each_sources_next_renewal_or_expiry(
    database_url: str, slack: Any, clock: FrozenClock
) -> None:
    async with every_network(database_url, slack, clock) as (h, fakes):
        await mixed_sources(h, fakes)
        body, _ = slack_requests.app_home_opened(user_id="U3", team_id=TEAM)
        assert (await h.send(body)).status_code == 200
        (publish,) = await h.slack.wait_for("views.publish")
        view = publish.args["view"]
        text = blocks_text(view)
        assert "All 7 sources are working" in text
        for label, detail in expected_lines(h.clock.now()).items():
            assert f"{label} — {detail}" in text, (label, text)
        for title in ("LinkedIn", "X", "Facebook", "Instagram", "YouTube", "TikTok", "Pinterest"):
            assert f"Connect {title}" in text


async def test_expiring_source_shows_how_long_is_left(network_bot: Any) -> None:
    async with network_bot("linkedin") as (h, fake):
        fake.add_account("Zx8pLq-3f", "Ada Lovelace")
        tokens = fake.issue_tokens("Zx8pLq-3f", lifetime=timedelta(days=3), refresh=False)
        await import_source(h, "linkedin", "Zx8pLq-3f", "Ada Lovelace", tokens)
        payload = await h.command("")
        assert "LinkedIn · Ada Lovelace* — expires in 3 days" in blocks_text(payload)
        assert len(reconnect_buttons(payload)) == 1


def test_cases_cover_every_network() -> None:
    assert sorted(c.network for c in CASES) == sorted(FAKES)


async def test_secrets_in_facebook_query_strings_stay_out_of_the_logs(
    network_bot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    keep_secrets_out()  # what `sources-bot serve` and the CLI set up
    caplog.set_level(logging.INFO)
    async with network_bot("facebook") as (h, fake):
        fake.add_account("100042", "Fay Book")
        assert (await connect(h, "facebook")).status_code == 200
        h.clock.advance(timedelta(days=55))  # inside the renewal window: fb_exchange_token
        assert (await h.scan()).renewed == ["Facebook · Fay Book"]

        assert any(r.params.get("client_secret") for r in fake.requests)  # they were sent
        secrets = [fake.client_secret, *fake.issued_access_tokens("100042")]
        assert caplog.records
        assert not [secret for secret in secrets if secret in caplog.text]
