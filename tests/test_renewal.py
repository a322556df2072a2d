"""Renewal without a person, against each network's fake: windows, rotation, concurrency.

Everything goes through the real edges: the fake networks' HTTP servers, the fake Slack and
the test's frozen clock. Assertions are on what is stored (sources, credentials, decrypted
tokens) and on what a person sees (``/sources``, the notices posted to the channel).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import (
    CHANNEL,
    ENCRYPTION_KEY,
    START,
    TEAM,
    Harness,
    blocks_text,
)
from fakes.networks import FakeNetwork, FakeX
from sqlalchemy import select, update

from bot.cli import main
from bot.domain import TokenSet
from bot.services.importer import import_records, parse_records
from bot.services.renewal import BACKOFF_MAX, BACKOFF_START, LAST_CHANCE, next_attempt
from bot.services.scan_plan import HEALTH_CHECKS_PER_NETWORK
from bot.services.sources import decrypt
from bot.store.models import Credential, Source


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
    source_id: int = source.id
    return source_id


# --- helpers ---------------------------------------------------------------------------------


async def stored(h: Harness, source_id: int) -> Source:
    """The source's row as the database holds it now."""
    async with h.services.ctx.db() as session:
        source: Source | None = await session.get(Source, source_id)
    assert source is not None
    return source


async def stored_tokens(h: Harness, source_id: int) -> list[TokenSet]:
    """Every credential of the source, decrypted, oldest first."""
    async with h.services.ctx.db() as session:
        credentials = (
            await session.scalars(
                select(Credential).where(Credential.source_id == source_id).order_by(Credential.id)
            )
        ).all()
    return [decrypt(h.services.ctx, credential) for credential in credentials]


async def set_lease(h: Harness, source_id: int, owner: str, until: datetime) -> None:
    """Leave a lease as a scan that died mid-renewal would."""
    async with h.services.ctx.db.begin() as session:
        await session.execute(
            update(Source)
            .where(Source.id == source_id)
            .values(lease_owner=owner, lease_until=until)
        )


def expiry_notices(h: Harness) -> list[Any]:
    """The expiry notices posted so far (early warnings are a different message)."""
    return [
        call
        for call in h.slack.successful_calls("chat.postMessage")
        if "reconnecting" in call.args.get("text", "")
    ]


def identity_calls(fake: FakeNetwork) -> int:
    return sum(1 for request in fake.requests if request.key == "userinfo")


async def expect_one_expiry_notice(h: Harness, label: str, reason: str) -> None:
    (notice,) = expiry_notices(h)
    assert notice.args["channel"] == CHANNEL
    assert label in notice.args["text"]
    assert reason in blocks_text(notice.args)


async def sources_reply(h: Harness) -> str:
    """What `/sources` shows the person who types it."""
    return blocks_text(await h.command(""))


X_ACCOUNT = "2244994945"
X_LABEL = "X · Acme on X"


async def x_source(h: Harness, fake: Any, **options: Any) -> tuple[int, str]:
    """An imported X source with a live two-hour token; (source id, its refresh token)."""
    fake.add_account(X_ACCOUNT, "Acme on X")
    source_id = await import_live(h, fake, X_ACCOUNT, "Acme on X", **options)
    (refresh,) = fake.issued_refresh_tokens(X_ACCOUNT)
    return source_id, refresh


# --- the example -----------------------------------------------------------------------------


async def test_x_renews_in_its_last_fifteen_minutes_once(network_bot: Any) -> None:
    async with network_bot("x") as (h, fake):
        fake.add_account("2244994945", "Acme on X")
        await import_live(h, fake, "2244994945", "Acme on X")
        (old_refresh,) = fake.issued_refresh_tokens("2244994945")

        h.clock.advance(timedelta(minutes=100))  # 20 minutes left: not yet
        assert (await h.scan()).renewed == []
        h.clock.advance(timedelta(minutes=10))  # 10 minutes left
        report = await h.scan()
        assert report.renewed == ["X · Acme on X"]
        assert fake.refresh_uses(old_refresh) == 1
        assert not fake.token_is_live(old_refresh)

        (source,) = await h.services.sources.list(TEAM)
        assert source.status == "active"
        assert source.expires_at == h.clock.now() + timedelta(hours=2)
        assert await h.rows("SELECT count(*) FROM credentials") == [(2,)]


# --- renewal for every network that allows it ------------------------------------------------


@dataclass(frozen=True)
class Renewable:
    network: str
    title: str
    account: str
    name: str
    window: timedelta  # renewed when this little of the access token's life is left
    failure_key: str  # the fake's key for the renewal request
    refresh: bool  # renews with a refresh token (else with the access token itself)
    rotates: bool  # a renewal returns a new refresh token and spends the old one
    grant: str  # grant_type of the renewal request
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.title} · {self.name}"


RENEWABLE = [
    Renewable(
        "x", "X", "2244994945", "Acme on X", timedelta(minutes=15), "refresh",
        refresh=True, rotates=True, grant="refresh_token",
    ),
    Renewable(
        "youtube", "YouTube", "UCacme", "Acme Channel", timedelta(minutes=10), "refresh",
        refresh=True, rotates=False, grant="refresh_token",
    ),
    Renewable(
        "tiktok", "TikTok", "open-acme", "Acme Clips", timedelta(hours=1), "refresh",
        refresh=True, rotates=True, grant="refresh_token",
    ),
    Renewable(
        "pinterest", "Pinterest", "549755885175", "Acme Pins", timedelta(days=7), "refresh",
        refresh=True, rotates=True, grant="refresh_token",
    ),
    Renewable(
        "linkedin", "LinkedIn", "urn-acme", "Acme Corp", timedelta(days=7), "refresh",
        refresh=True, rotates=True, grant="refresh_token",
        options={"issue_refresh_tokens": True},
    ),
    Renewable(
        "facebook", "Facebook", "10150000000000001", "Acme Page", timedelta(days=7), "exchange",
        refresh=False, rotates=False, grant="fb_exchange_token",
    ),
    Renewable(
        "instagram", "Instagram", "17841400000000001", "acme.gram", timedelta(days=7), "refresh",
        refresh=False, rotates=False, grant="ig_refresh_token",
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", RENEWABLE, ids=[case.network for case in RENEWABLE])
async def test_renews_inside_its_window_and_keeps_the_right_refresh_token(
    network_bot: Any, case: Renewable
) -> None:
    async with network_bot(case.network, **case.options) as (h, fake):
        fake.add_account(case.account, case.name)
        imported_at = h.clock.now()
        source_id = await import_live(h, fake, case.account, case.name)
        (old_access,) = fake.issued_access_tokens(case.account)
        old_refresh = fake.issued_refresh_tokens(case.account)[0] if case.refresh else None
        expires_at = (await stored(h, source_id)).expires_at
        assert expires_at is not None
        lifetime = expires_at - imported_at

        # Five minutes before the window opens: nothing is renewed, the health check passes.
        h.clock.advance(lifetime - case.window - timedelta(minutes=5))
        report = await h.scan()
        assert report.renewed == []
        assert fake.token_requests == []
        before = await stored(h, source_id)
        assert (before.status, before.last_error) == ("active", None)
        assert before.checked_at == h.clock.now()

        # Five minutes inside the window the network is briefly down...
        h.clock.advance(timedelta(minutes=10))
        fake.fail(case.failure_key, 503)
        report = await h.scan()
        assert report.renewed == []
        failing = await stored(h, source_id)
        assert failing.status == "expiring"
        assert failing.last_error is not None
        assert failing.last_error["kind"] == "transient"
        assert f"{case.title} is not answering (HTTP 503)" in failing.last_error["reason"]

        # ...and the next try after the backoff renews it.
        h.clock.advance(BACKOFF_START)
        report = await h.scan()
        assert report.renewed == [case.label]
        renewed_at = h.clock.now()
        after = await stored(h, source_id)
        assert after.status == "active"
        assert after.last_error is None
        assert after.failures == 0
        assert after.expires_at == renewed_at + lifetime
        assert after.lease_owner is None

        old, new = await stored_tokens(h, source_id)
        assert old.access_token == old_access  # the old credential stays as history
        assert new.access_token == fake.issued_access_tokens(case.account)[-1]
        assert new.access_token != old_access
        assert fake.token_is_live(new.access_token)
        assert new.expires_at == renewed_at + lifetime
        renewal = fake.token_requests[-1]
        assert renewal["grant_type"] == case.grant
        if case.refresh:
            assert fake.refresh_uses(old_refresh) == 1
            if case.rotates:
                newest_refresh = fake.issued_refresh_tokens(case.account)[-1]
                assert newest_refresh != old_refresh
                assert new.refresh_token == newest_refresh
                assert not fake.token_is_live(old_refresh)
            else:
                assert fake.issued_refresh_tokens(case.account) == [old_refresh]
                assert new.refresh_token == old_refresh
        else:
            assert new.refresh_token is None
            assert fake.refresh_uses(old_access) == 1
        if case.network == "pinterest":
            assert renewal["refresh_on"] == "true"

        # The next window renews again with what was stored.
        h.clock.advance(lifetime - case.window + timedelta(minutes=5))
        report = await h.scan()
        assert report.renewed == [case.label]
        tokens = await stored_tokens(h, source_id)
        assert len(tokens) == 3
        assert (await stored(h, source_id)).expires_at == h.clock.now() + lifetime
        if case.refresh and case.rotates:
            assert fake.refresh_uses(new.refresh_token) == 1
            assert tokens[2].refresh_token == fake.issued_refresh_tokens(case.account)[-1]
            assert tokens[2].refresh_token not in (old_refresh, new.refresh_token)
        elif case.refresh:
            assert fake.refresh_uses(old_refresh) == 2  # Google's refresh token keeps working
            assert tokens[2].refresh_token == old_refresh
        else:
            assert fake.refresh_uses(new.access_token) == 1
        assert expiry_notices(h) == []


async def test_pinterest_refresh_without_a_new_refresh_token_keeps_the_old_one(
    network_bot: Any,
) -> None:
    """If Pinterest ignores refresh_on and returns no refresh token, the old one is kept."""
    async with network_bot("pinterest") as (h, fake):
        fake.add_account("549755885175", "Acme Pins")
        fake._rotates = lambda params: False  # an answer without a new refresh token
        source_id = await import_live(h, fake, "549755885175", "Acme Pins")
        (old_refresh,) = fake.issued_refresh_tokens("549755885175")

        h.clock.advance(timedelta(days=25))
        assert (await h.scan()).renewed == ["Pinterest · Acme Pins"]
        _, new = await stored_tokens(h, source_id)
        assert new.refresh_token == old_refresh
        assert fake.token_is_live(old_refresh)


# --- concurrency and crashes -----------------------------------------------------------------


@pytest.mark.parametrize("x_is_slow", [False, True], ids=["at-once", "while-x-answers"])
async def test_two_scans_at_once_renew_an_x_source_exactly_once(
    network_bot: Any, x_is_slow: bool
) -> None:
    async with network_bot("x") as (h, fake):
        source_id, old_refresh = await x_source(h, fake)
        h.clock.advance(timedelta(minutes=110))
        if x_is_slow:
            # The first scan's refresh is still in flight when the second reaches the source.
            fake.hang("refresh", 0.3)

        first, second = await asyncio.gather(h.scan(), h.scan())

        assert first.renewed + second.renewed == [X_LABEL]
        assert first.expired + second.expired == []
        assert first.transient + second.transient == []
        assert fake.refresh_uses(old_refresh) == 1
        assert len(fake.issued_refresh_tokens(X_ACCOUNT)) == 2
        tokens = await stored_tokens(h, source_id)
        assert len(tokens) == 2
        assert tokens[1].refresh_token == fake.issued_refresh_tokens(X_ACCOUNT)[-1]
        assert fake.token_is_live(tokens[1].refresh_token)
        source = await stored(h, source_id)
        assert (source.status, source.lease_owner, source.lease_until) == ("active", None, None)
        assert source.expires_at == h.clock.now() + timedelta(hours=2)


async def test_a_live_lease_of_a_crashed_scan_is_skipped_until_it_runs_out(
    network_bot: Any,
) -> None:
    async with network_bot("x") as (h, fake):
        source_id, old_refresh = await x_source(h, fake)
        h.clock.advance(timedelta(minutes=110))  # 10 minutes left
        await set_lease(h, source_id, "crashed-scan", h.clock.now() + timedelta(minutes=5))

        report = await h.scan()
        assert report.renewed == report.expired == report.transient == []
        assert fake.token_requests == []
        held = await stored(h, source_id)
        assert (held.status, held.lease_owner) == ("active", "crashed-scan")

        h.clock.advance(timedelta(minutes=6))  # the lease ran out; 4 minutes left
        report = await h.scan()
        assert report.renewed == [X_LABEL]
        assert fake.refresh_uses(old_refresh) == 1
        source = await stored(h, source_id)
        assert (source.status, source.lease_owner, source.lease_until) == ("active", None, None)
        assert source.last_error is None
        assert len(await stored_tokens(h, source_id)) == 2


async def test_a_crash_after_x_answered_ends_expired_with_a_reason_and_a_notice(
    network_bot: Any,
) -> None:
    async with network_bot("x") as (h, fake):
        source_id, old_refresh = await x_source(h, fake)
        h.clock.advance(timedelta(minutes=110))
        # The crashed scan's refresh reached X, X answered (spending the refresh token), and
        # the process died before committing: only its lease is left.
        async with httpx2.AsyncClient() as http:
            answer = await http.post(
                fake.url("token"),
                data={"grant_type": "refresh_token", "refresh_token": old_refresh},
                auth=(fake.client_id, fake.client_secret),
            )
        assert answer.status_code == 200
        await set_lease(h, source_id, "crashed-scan", h.clock.now() + timedelta(minutes=5))

        h.clock.advance(timedelta(minutes=6))
        report = await h.scan()

        assert report.expired == [X_LABEL]
        assert fake.refresh_uses(old_refresh) == 2
        source = await stored(h, source_id)
        assert source.status == "expired"
        assert (source.lease_owner, source.lease_until) == (None, None)
        assert source.last_error is not None
        reason = source.last_error["reason"]
        assert reason.startswith("X: ")
        assert "interrupted" in reason
        (info,) = await h.services.sources.list(TEAM)
        assert info.last_error is not None and info.last_error.reason == reason
        await expect_one_expiry_notice(h, X_LABEL, reason)
        assert len(await stored_tokens(h, source_id)) == 1

        await h.scan()  # said once
        assert len(expiry_notices(h)) == 1
        assert fake.refresh_uses(old_refresh) == 2


# --- transient failures ----------------------------------------------------------------------


def test_backoff_doubles_up_to_its_cap() -> None:
    now = START
    assert next_attempt(1, now, None) == now + BACKOFF_START
    assert next_attempt(2, now, None) == now + 2 * BACKOFF_START
    assert next_attempt(3, now, None) == now + 4 * BACKOFF_START
    assert next_attempt(8, now, None) == now + BACKOFF_MAX
    assert next_attempt(30, now, None) == now + BACKOFF_MAX


@pytest.mark.parametrize("failures", [41, 50, 1000])
def test_backoff_stays_capped_after_many_failures(failures: int) -> None:
    assert next_attempt(failures, START, None) == START + BACKOFF_MAX


def test_backoff_never_skips_the_last_chance_before_expiry() -> None:
    now = START
    expires_at = now + timedelta(minutes=6)
    # 8 minutes of backoff would jump past the expiry: the last chance comes first.
    assert next_attempt(3, now, expires_at) == expires_at - LAST_CHANCE
    # A backoff that ends before the last chance is kept as is.
    assert next_attempt(1, now, expires_at) == now + BACKOFF_START
    # Far from expiry nothing changes.
    assert next_attempt(20, now, now + timedelta(days=3)) == now + BACKOFF_MAX
    # Past the last chance (or the expiry) the backoff goes on.
    assert next_attempt(2, now, now + timedelta(minutes=1)) == now + 2 * BACKOFF_START
    assert next_attempt(2, now, now - timedelta(hours=1)) == now + 2 * BACKOFF_START


async def test_x_down_keeps_the_source_expiring_past_its_expiry_until_renewal_works(
    network_bot: Any,
) -> None:
    async with network_bot("x") as (h, fake):
        source_id, old_refresh = await x_source(h, fake)
        expires_at = (await stored(h, source_id)).expires_at
        assert expires_at is not None
        fake.fail("refresh", 503, times=2)

        h.clock.advance(timedelta(minutes=110))
        report = await h.scan()
        assert report.renewed == report.expired == []
        assert report.transient == [f"{X_LABEL}: X is not answering (HTTP 503)"]
        source = await stored(h, source_id)
        assert source.status == "expiring"
        assert source.last_error is not None
        assert source.last_error["kind"] == "transient"
        assert source.last_error["reason"] == "X is not answering (HTTP 503)"
        assert "renewal failing: X is not answering (HTTP 503)" in await sources_reply(h)

        # Backoff: a scan right away does not ask X again.
        requests = len(fake.token_requests)
        await h.scan()
        assert len(fake.token_requests) == requests

        # Past the access token's expiry it is still expiring, not expired.
        h.clock.set(expires_at + timedelta(minutes=10))
        report = await h.scan()
        assert len(fake.token_requests) == requests + 1
        assert report.expired == []
        (info,) = await h.services.sources.list(TEAM)
        assert info.status == "expiring"
        assert info.last_error is not None and info.last_error.kind == "transient"
        assert "renewal failing: X is not answering (HTTP 503)" in await sources_reply(h)
        assert expiry_notices(h) == []

        # X is back: the next try renews it and the error is gone.
        h.clock.advance(timedelta(minutes=5))
        report = await h.scan()
        assert report.renewed == [X_LABEL]
        assert fake.refresh_uses(old_refresh) == 1
        source = await stored(h, source_id)
        assert source.status == "active"
        assert source.last_error is None
        assert (source.failures, source.failing_since, source.next_attempt_at) == (0, None, None)
        assert source.expires_at == h.clock.now() + timedelta(hours=2)
        assert "renewal failing" not in await sources_reply(h)
        assert expiry_notices(h) == []


async def test_backoff_keeps_the_last_chance_before_x_expires(network_bot: Any) -> None:
    async with network_bot("x") as (h, fake):
        source_id, old_refresh = await x_source(h, fake)
        expires_at = (await stored(h, source_id)).expires_at
        assert expires_at is not None
        fake.fail("refresh", 503, times=3)

        h.clock.set(expires_at - timedelta(minutes=14))
        await h.scan()  # failure 1: next try in 2 minutes
        h.clock.advance(timedelta(minutes=2))
        await h.scan()  # failure 2: next try in 4 minutes
        h.clock.advance(timedelta(minutes=4))
        await h.scan()  # failure 3: 8 minutes would pass the expiry
        source = await stored(h, source_id)
        assert source.failures == 3
        assert source.next_attempt_at == expires_at - LAST_CHANCE
        assert len(fake.token_requests) == 3

        h.clock.set(expires_at - LAST_CHANCE - timedelta(minutes=1))
        await h.scan()
        assert len(fake.token_requests) == 3

        h.clock.set(expires_at - LAST_CHANCE)
        report = await h.scan()
        assert report.renewed == [X_LABEL]
        assert fake.refresh_uses(old_refresh) == 1
        assert (await stored(h, source_id)).status == "active"


async def test_x_rate_limit_is_respected_with_retry_after(network_bot: Any) -> None:
    async with network_bot("x") as (h, fake):
        source_id, _ = await x_source(h, fake)
        h.clock.advance(timedelta(minutes=105))  # 15 minutes left
        fake.fail("refresh", 429, retry_after=300)

        report = await h.scan()
        assert report.transient == [f"{X_LABEL}: X asked us to slow down"]
        source = await stored(h, source_id)
        assert source.status == "expiring"
        assert source.last_error is not None
        assert source.last_error["kind"] == "transient"
        assert source.next_attempt_at == h.clock.now() + timedelta(seconds=300)
        assert "renewal failing: X asked us to slow down" in await sources_reply(h)

        h.clock.advance(timedelta(minutes=3))  # past the backoff, not past Retry-After
        await h.scan()
        assert len(fake.token_requests) == 1

        h.clock.advance(timedelta(minutes=2))
        report = await h.scan()
        assert report.renewed == [X_LABEL]
        source = await stored(h, source_id)
        assert (source.status, source.last_error) == ("active", None)


async def test_x_unreachable_is_transient(network_bot: Any) -> None:
    async with network_bot("x") as (h, fake):
        source_id, _ = await x_source(h, fake)
        expires_at = (await stored(h, source_id)).expires_at
        assert expires_at is not None
        await fake.stop()  # connection refused from now on

        h.clock.advance(timedelta(minutes=110))
        report = await h.scan()
        assert report.transient == [f"{X_LABEL}: X could not be reached"]
        h.clock.set(expires_at + timedelta(hours=1))
        report = await h.scan()
        assert report.expired == []
        source = await stored(h, source_id)
        assert source.status == "expiring"
        assert source.last_error is not None
        assert source.last_error["kind"] == "transient"
        assert source.last_error["reason"] == "X could not be reached"
        assert source.failures == 2
        assert expiry_notices(h) == []


async def test_x_timing_out_is_transient(network_bot: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("bot.oauth.client.TIMEOUT", httpx2.Timeout(0.2))
    async with network_bot("x") as (h, fake):
        source_id, _ = await x_source(h, fake)
        h.clock.advance(timedelta(minutes=110))
        fake.hang("refresh", 5)

        report = await h.scan()
        assert report.renewed == report.expired == []
        assert len(report.transient) == 1
        source = await stored(h, source_id)
        assert source.status == "expiring"
        assert source.last_error is not None
        assert source.last_error["kind"] == "transient"
        assert source.last_error["reason"].startswith("X ")
        assert len(await stored_tokens(h, source_id)) == 1


@pytest.mark.parametrize("budget_hours", [None, 3], ids=["default-day", "three-hours"])
async def test_renewal_failing_longer_than_the_budget_expires_with_one_notice(
    network_bot: Any, budget_hours: int | None
) -> None:
    env = {"RENEWAL_FAILURE_BUDGET_HOURS": str(budget_hours)} if budget_hours else {}
    budget = timedelta(hours=budget_hours or 24)
    async with network_bot("x", env=env) as (h, fake):
        source_id, _ = await x_source(h, fake)
        fake.fail("refresh", 503, times=1000)

        h.clock.advance(timedelta(minutes=110))
        await h.scan()
        failing_since = (await stored(h, source_id)).failing_since
        assert failing_since == h.clock.now()

        # Every retry within the budget leaves it expiring; the first one past it expires it.
        tries = 1
        while True:
            retry_at = (await stored(h, source_id)).next_attempt_at
            assert retry_at is not None
            h.clock.set(retry_at)
            report = await h.scan()
            tries += 1
            assert len(fake.token_requests) == tries < 100
            if h.clock.now() - failing_since > budget:
                break
            assert report.expired == []
            assert (await stored(h, source_id)).status == "expiring"
            assert expiry_notices(h) == []

        source = await stored(h, source_id)
        assert source.status == "expired"
        assert source.last_error is not None
        reason = source.last_error["reason"]
        assert "X is not answering (HTTP 503)" in reason
        assert f"{budget_hours or 24} hours" in reason
        await expect_one_expiry_notice(h, X_LABEL, reason)

        h.clock.advance(timedelta(hours=3))
        await h.scan()
        assert len(expiry_notices(h)) == 1


async def test_the_scan_reports_a_source_expired_by_the_failure_budget_as_expired(
    network_bot: Any,
) -> None:
    env = {"RENEWAL_FAILURE_BUDGET_HOURS": "1"}
    async with network_bot("x", env=env) as (h, fake):
        source_id, _ = await x_source(h, fake)
        fake.fail("refresh", 503, times=1000)
        h.clock.advance(timedelta(minutes=110))
        await h.scan()
        h.clock.advance(timedelta(hours=2))  # failing for two hours, past the budget

        report = await h.scan()

        assert (await stored(h, source_id)).status == "expired"
        assert report.expired == [X_LABEL]
        assert report.transient == []
        assert report.expiring == []
        assert "expired: 1 (X · Acme on X)" in report.summary().splitlines()


@pytest.mark.parametrize("checked", [True, False], ids=["checked-a-day-ago", "never-checked"])
async def test_health_check_does_not_expire_a_source_whose_renewal_is_failing(
    network_bot: Any, checked: bool
) -> None:
    async with network_bot("x") as (h, fake):
        source_id, old_refresh = await x_source(h, fake)
        expires_at = (await stored(h, source_id)).expires_at
        assert expires_at is not None
        if checked:
            await h.scan()  # today's health check passes
        fake.fail("refresh", 503, times=1000)

        h.clock.advance(timedelta(minutes=110))
        await h.scan()  # renewal starts failing
        if checked:
            # A day after the health check; renewal has failed for 22 hours.
            h.clock.advance(timedelta(hours=22, minutes=11))
        else:
            h.clock.set(expires_at + timedelta(minutes=5))
        await h.scan()  # renewal fails again, past the token's expiry
        h.clock.advance(timedelta(minutes=1))
        await h.scan()  # a scan during the backoff

        source = await stored(h, source_id)
        assert source.status == "expiring"
        assert source.last_error is not None
        assert source.last_error["kind"] == "transient"
        assert expiry_notices(h) == []
        assert fake.token_is_live(old_refresh)


# --- final failures --------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadRefresh:
    network: str
    title: str
    account: str
    reason: str
    window: timedelta
    options: dict[str, Any] = field(default_factory=dict)


DEAD_REFRESH = [
    DeadRefresh(
        "linkedin", "LinkedIn", "urn-acme",
        "LinkedIn: the saved authorization was expired or revoked", timedelta(days=7),
        {"issue_refresh_tokens": True},
    ),
    DeadRefresh(
        "youtube", "YouTube", "UCacme",
        "YouTube: the saved authorization was expired or revoked", timedelta(minutes=10),
    ),
    DeadRefresh(
        "tiktok", "TikTok", "open-acme",
        "TikTok: the saved authorization was expired or revoked", timedelta(hours=1),
    ),
    DeadRefresh(
        "x", "X", "2244994945",
        "X: the saved authorization is no longer valid", timedelta(minutes=15),
    ),
    DeadRefresh(
        "pinterest", "Pinterest", "549755885175",
        "Pinterest: the authorization grant is invalid", timedelta(days=7),
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", DEAD_REFRESH, ids=[case.network for case in DEAD_REFRESH])
async def test_a_refused_refresh_token_expires_the_source_with_the_reason(
    network_bot: Any, case: DeadRefresh
) -> None:
    """invalid_grant (LinkedIn, YouTube, TikTok), X's invalid_request "Value passed for the
    token was invalid.", Pinterest's refusal: final, said once, in plain words."""
    async with network_bot(case.network, **case.options) as (h, fake):
        fake.add_account(case.account, "Acme")
        imported_at = h.clock.now()
        source_id = await import_live(h, fake, case.account, "Acme")
        (refresh,) = fake.issued_refresh_tokens(case.account)
        fake.revoke_token(refresh)
        expires_at = (await stored(h, source_id)).expires_at
        assert expires_at is not None

        h.clock.set(expires_at - case.window + timedelta(minutes=5))
        report = await h.scan()

        label = f"{case.title} · Acme"
        assert report.expired == [label]
        assert fake.refresh_uses(refresh) == 1
        source = await stored(h, source_id)
        assert source.status == "expired"
        assert source.status_changed_at == h.clock.now() > imported_at
        assert source.last_error is not None
        assert source.last_error["kind"] == "expired"
        assert source.last_error["reason"] == case.reason
        (info,) = await h.services.sources.list(TEAM)
        assert (info.status, info.last_error and info.last_error.reason) == ("expired", case.reason)
        await expect_one_expiry_notice(h, label, case.reason)

        # Final: no more tries, no second notice.
        h.clock.advance(timedelta(hours=1))
        await h.scan()
        assert fake.refresh_uses(refresh) == 1
        assert len(expiry_notices(h)) == 1


GRAPH_190 = [
    ("facebook", "Facebook", 458, "revoked", "Facebook: the app was removed from the account"),
    ("facebook", "Facebook", 460, "revoked", "Facebook: the password was changed"),
    ("facebook", "Facebook", 463, "expired", "Facebook: the connection expired"),
    ("instagram", "Instagram", 460, "revoked", "Instagram: the password was changed"),
]


@pytest.mark.parametrize(
    ("network", "title", "subcode", "status", "reason"),
    GRAPH_190,
    ids=[f"{network}-{subcode}" for network, _, subcode, _, _ in GRAPH_190],
)
async def test_graph_code_190_ends_renewal_with_the_subcode_in_plain_words(
    network_bot: Any, network: str, title: str, subcode: int, status: str, reason: str
) -> None:
    async with network_bot(network) as (h, fake):
        fake.add_account("17841400000000001", "Acme")
        source_id = await import_live(h, fake, "17841400000000001", "Acme")
        (access,) = fake.issued_access_tokens("17841400000000001")
        fake.revoke("17841400000000001", subcode=subcode)

        h.clock.advance(timedelta(days=55))  # inside the last 7 days
        report = await h.scan()

        label = f"{title} · Acme"
        assert report.expired == [label]
        assert fake.refresh_uses(access) == 1
        source = await stored(h, source_id)
        assert source.status == status
        assert source.last_error is not None
        assert (source.last_error["kind"], source.last_error["reason"]) == (status, reason)
        (info,) = await h.services.sources.list(TEAM)
        assert info.status == status
        await expect_one_expiry_notice(h, label, reason)


HEALTH_401 = [
    ("linkedin", "LinkedIn", "expired", "LinkedIn rejected the connection"),
    ("x", "X", "expired", "X rejected the connection"),
    ("facebook", "Facebook", "revoked", "Facebook: the password was changed"),
    ("instagram", "Instagram", "revoked", "Instagram: the password was changed"),
    ("youtube", "YouTube", "expired", "YouTube rejected the connection"),
    ("tiktok", "TikTok", "expired", "TikTok: the connection is no longer valid"),
    ("pinterest", "Pinterest", "expired", "Pinterest: authentication failed"),
]


@pytest.mark.parametrize(
    ("network", "title", "status", "reason"), HEALTH_401, ids=[row[0] for row in HEALTH_401]
)
async def test_the_daily_health_check_finds_a_revoked_token(
    network_bot: Any, network: str, title: str, status: str, reason: str
) -> None:
    async with network_bot(network) as (h, fake):
        fake.add_account("acct-1", "Acme")
        # A month left: no renewal is due during the test, only health checks.
        source_id = await import_live(h, fake, "acct-1", "Acme", lifetime=timedelta(days=30))
        await h.scan()
        assert identity_calls(fake) == 1
        assert (await stored(h, source_id)).status == "active"

        fake.revoke("acct-1")  # the person removed the app, long before the token's expiry
        h.clock.advance(timedelta(hours=23))
        await h.scan()
        assert identity_calls(fake) == 1  # checked less than a day ago
        assert (await stored(h, source_id)).status == "active"

        h.clock.advance(timedelta(hours=1, minutes=1))
        report = await h.scan()
        label = f"{title} · Acme"
        assert report.expired == [label]
        assert identity_calls(fake) == 2
        assert fake.token_requests == []
        source = await stored(h, source_id)
        assert source.status == status
        assert source.last_error is not None
        assert (source.last_error["kind"], source.last_error["reason"]) == (status, reason)
        await expect_one_expiry_notice(h, label, reason)


# --- sources that cannot renew themselves ----------------------------------------------------


async def test_linkedin_without_a_refresh_token_expires_with_its_token_without_asking(
    network_bot: Any,
) -> None:
    async with network_bot("linkedin") as (h, fake):
        fake.add_account("urn-acme", "Acme Corp")
        source_id = await import_live(h, fake, "urn-acme", "Acme Corp", refresh=False)
        source = await stored(h, source_id)
        assert source.renewable is False
        assert source.expires_at == START + timedelta(days=60)

        h.clock.advance(timedelta(days=55))  # inside the 7-day window of renewable ones
        report = await h.scan()
        assert report.renewed == []
        assert fake.token_requests == []
        assert (await stored(h, source_id)).status == "expiring"

        h.clock.set(START + timedelta(days=60, minutes=1))
        report = await h.scan()
        assert report.expired == ["LinkedIn · Acme Corp"]
        assert fake.token_requests == []
        assert identity_calls(fake) == 1  # only the first scan's health check
        source = await stored(h, source_id)
        assert source.status == "expired"
        assert source.last_error is not None
        reason = source.last_error["reason"]
        assert reason == "LinkedIn connection expired on 27 Jan"
        await expect_one_expiry_notice(h, "LinkedIn · Acme Corp", reason)


# --- health checks ---------------------------------------------------------------------------


async def test_health_checks_are_bounded_per_network_and_spread_over_scans(
    network_bot: Any,
) -> None:
    async with network_bot("linkedin") as (h, fake):
        records = []
        for number in range(30):
            account = f"urn-{number:02}"
            fake.add_account(account, f"Page {number:02}")
            tokens = fake.issue_tokens(account, refresh=False)
            records.append(
                {
                    "network": "linkedin",
                    "account_id": account,
                    "name": f"Page {number:02}",
                    "access_token": tokens["access_token"],
                    "expires_at": tokens["expires_at"].isoformat(),
                    "workspace": TEAM,
                }
            )
        await import_records(
            h.services.ctx,
            h.services.workspaces,
            parse_records(records, h.services.ctx.catalogue),
        )
        assert await h.rows("SELECT count(*) FROM sources WHERE checked_at IS NULL") == [(30,)]

        await h.scan()
        assert identity_calls(fake) == HEALTH_CHECKS_PER_NETWORK == 25
        assert await h.rows("SELECT count(*) FROM sources WHERE checked_at IS NULL") == [(5,)]

        h.clock.advance(timedelta(minutes=5))
        await h.scan()
        assert identity_calls(fake) == 30
        assert await h.rows("SELECT count(*) FROM sources WHERE checked_at IS NULL") == [(0,)]
        checked = {request.authorization for request in fake.requests}
        assert len(checked) == 30  # every source's own token, once

        h.clock.advance(timedelta(hours=23))
        await h.scan()
        assert identity_calls(fake) == 30

        h.clock.advance(timedelta(hours=1))  # a day after the first scan's checks
        await h.scan()
        assert identity_calls(fake) == 55


# --- the command line ------------------------------------------------------------------------


@contextlib.contextmanager
def x_in_a_thread() -> Iterator[FakeX]:
    """A fake X on real time, served by its own event loop (``main`` runs its own loop)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-x", daemon=True)
    thread.start()
    fake = FakeX()
    try:
        asyncio.run_coroutine_threadsafe(fake.start(), loop).result(timeout=10)
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def import_via_cli(fake: FakeX, database_url: str, tmp_path: Path) -> tuple[dict[str, str], str]:
    """An X source whose token expires in 10 minutes, imported by the CLI; (env, refresh)."""
    fake.add_account(X_ACCOUNT, "Acme on X")
    tokens = fake.issue_tokens(X_ACCOUNT, lifetime=timedelta(minutes=10))
    record = {
        "network": "x",
        "account_id": X_ACCOUNT,
        "name": "Acme on X",
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "expires_at": tokens["expires_at"].isoformat(),
        "workspace": TEAM,
    }
    path = tmp_path / "sources.json"
    path.write_text(json.dumps([record]))
    env = {
        "DATABASE_URL": database_url,
        # Slack is unreachable: a warning that cannot be posted now is posted by a later scan.
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "SLACK_NOTIFY_CHANNEL": CHANNEL,
        "TOKEN_ENCRYPTION_KEY": ENCRYPTION_KEY,
        **fake.env(),
    }
    assert main(["sources", "import", str(path)], env) == 0
    return env, tokens["refresh_token"]


def test_cli_scan_prints_the_renewal_and_exits_zero(
    capsys: pytest.CaptureFixture[str], database_url: str, tmp_path: Path
) -> None:
    with x_in_a_thread() as fake:
        env, refresh = import_via_cli(fake, database_url, tmp_path)
        capsys.readouterr()

        assert main(["scan"], env) == 0
        out = capsys.readouterr().out.splitlines()
        assert "renewed: 1 (X · Acme on X)" in out
        assert "transient failures: 0" in out
        assert fake.refresh_uses(refresh) == 1

        assert main(["sources", "list", "--json"], env) == 0
        (listed,) = json.loads(capsys.readouterr().out)
    assert listed["status"] == "active"
    left = datetime.fromisoformat(listed["expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=110) < left <= timedelta(hours=2)


def test_cli_scan_exits_zero_when_renewal_fails_and_says_why(
    capsys: pytest.CaptureFixture[str], database_url: str, tmp_path: Path
) -> None:
    with x_in_a_thread() as fake:
        env, _ = import_via_cli(fake, database_url, tmp_path)
    capsys.readouterr()

    assert main(["scan"], env) == 0  # X is gone: connection refused
    out = capsys.readouterr().out.splitlines()
    assert "renewed: 0" in out
    assert "expired: 0" in out
    assert "transient failures: 1 (X · Acme on X: X could not be reached)" in out
