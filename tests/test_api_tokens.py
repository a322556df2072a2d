"""The API's token and reconnect-link endpoints: tokens renewed under the scan's lease, and
sources that need a person handed back to one, with the same checks and confirmations as the
Reconnect button. Every response is held to the OpenAPI document."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest
from api_support import OTHER_TEAM, add_sources, new_key
from conftest import Harness
from openapi_check import checked_api
from test_renewal import X_ACCOUNT, stored_tokens, x_source

from bot.domain import TokenSet
from bot.services.sources import add_credential
from bot.store.models import Source

PROBLEM = "urn:sources-bot:problem:"


async def test_a_token_that_is_not_due_is_handed_over_and_the_read_recorded(
    network_bot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with network_bot("x") as (h, fake):
        source_id, _ = await x_source(h, fake)
        key = await new_key(h)
        async with checked_api(h, key) as api:
            answer = await api.post(f"/api/v1/sources/{source_id}/token")
        assert answer.status_code == 200
        (stored,) = await stored_tokens(h, source_id)
        assert answer.json() == {
            "access_token": stored.access_token,
            "token_type": "Bearer",
            "expires_at": (h.clock.now() + timedelta(hours=2)).isoformat(),
            "scopes": [],  # imported without them
            "account_id": X_ACCOUNT,
        }
        assert answer.headers["cache-control"] == "no-store"
        assert fake.issued_refresh_tokens(X_ACCOUNT)[-1:] == [stored.refresh_token]
        assert await h.rows("SELECT last_read_by FROM sources") == [("api-key:platform",)]
        assert stored.access_token not in caplog.text


async def test_twenty_concurrent_calls_for_a_due_source_make_one_refresh(network_bot: Any) -> None:
    async with network_bot("x") as (h, fake):
        source_id, refresh = await x_source(h, fake)
        key = await new_key(h)
        h.clock.advance(timedelta(minutes=110))  # inside X's last 15 minutes
        async with checked_api(h, key) as api:
            answers = await asyncio.gather(
                *(api.post(f"/api/v1/sources/{source_id}/token") for _ in range(20))
            )
        assert [a.status_code for a in answers] == [200] * 20
        assert fake.refresh_uses(refresh) == 1
        old, new = await stored_tokens(h, source_id)
        assert {a.json()["access_token"] for a in answers} == {new.access_token}
        assert new.access_token != old.access_token
        kinds = await h.rows("SELECT type, actor FROM events ORDER BY id")
        assert kinds == [("source.connected", "cli"), ("source.renewed", "api-key:platform")]


async def test_force_refresh_renews_a_token_that_is_not_due(network_bot: Any) -> None:
    async with network_bot("x") as (h, fake):
        source_id, refresh = await x_source(h, fake)
        async with checked_api(h, await new_key(h)) as api:
            answer = await api.post(
                f"/api/v1/sources/{source_id}/token", json={"force_refresh": True}
            )
        old, new = await stored_tokens(h, source_id)
        assert answer.json()["access_token"] == new.access_token != old.access_token
        assert fake.refresh_uses(refresh) == 1


async def test_a_passing_failure_hands_over_the_still_valid_token_as_stale(
    network_bot: Any,
) -> None:
    async with network_bot("x") as (h, fake):
        source_id, _ = await x_source(h, fake)
        h.clock.advance(timedelta(minutes=110))
        fake.fail("refresh", 503, times=100)
        async with checked_api(h, await new_key(h)) as api:
            stale = await api.post(f"/api/v1/sources/{source_id}/token")
            assert stale.status_code == 200 and stale.json()["stale"] is True
            (stored,) = await stored_tokens(h, source_id)
            assert stale.json()["access_token"] == stored.access_token

            h.clock.advance(timedelta(minutes=11))  # the token has run out, renewal still fails
            gone = await api.post(f"/api/v1/sources/{source_id}/token")
        assert gone.status_code == 503
        assert gone.json()["type"] == PROBLEM + "renewal_unavailable"
        assert int(gone.headers["retry-after"]) >= 1
        assert "X is not answering (HTTP 503)" in gone.json()["detail"]


async def test_a_revoked_grant_answers_needs_reconnect_and_posts_the_notice(
    network_bot: Any,
) -> None:
    async with network_bot("x") as (h, fake):
        source_id, _ = await x_source(h, fake)
        fake.revoke(X_ACCOUNT)
        h.clock.advance(timedelta(minutes=110))
        async with checked_api(h, await new_key(h)) as api:
            answer = await api.post(f"/api/v1/sources/{source_id}/token")
        problem = answer.json()
        assert answer.status_code == 409 and problem["type"] == PROBLEM + "needs_reconnect"
        assert problem["source_id"] == source_id and problem["source_status"] == "expired"
        assert problem["reason"] == "X: the saved authorization is no longer valid"
        assert problem["reconnect_url"].startswith("http://bot.test/oauth/start/")
        await h.drain()
        (notice,) = [
            c
            for c in h.slack.successful_calls("chat.postMessage")
            if "reconnecting" in c.args["text"]
        ]
        assert "Acme on X" in notice.args["text"]


async def test_the_reconnect_link_restores_and_confirms_in_slack(harness: Harness) -> None:
    (source_id,) = await add_sources(harness, {"account_id": "urn-acme", "name": "Acme Corp"})
    harness.linkedin.add_account("urn-acme", "Acme Corp")
    harness.linkedin.login_as("urn-acme")
    async with checked_api(harness, await new_key(harness)) as api:
        made = await api.post(
            f"/api/v1/sources/{source_id}/reconnect-link", json={"notify": "U0PLATFORM"}
        )
    assert made.status_code == 200
    assert made.json()["expires_at"] == (harness.clock.now() + timedelta(minutes=10)).isoformat()
    async with harness.browser() as browser:
        page = await browser.get(made.json()["url"])
    assert page.status_code == 200 and "reconnected" in page.text
    await harness.drain()
    (dm,) = harness.slack.successful_calls("chat.postMessage")
    assert dm.args["channel"] == "U0PLATFORM" and "Acme Corp is reconnected" in dm.args["text"]
    events = await harness.rows("SELECT type, actor FROM events ORDER BY id")
    assert events[-1] == ("source.connected", "api-key:platform")


async def test_reconnect_link_bad_input(harness: Harness) -> None:
    (source_id,) = await add_sources(harness, {"account_id": "urn-acme"})
    (theirs,) = await add_sources(harness, {"account_id": "urn-z"}, team=OTHER_TEAM)
    async with checked_api(harness, await new_key(harness)) as api:
        bad_user = await api.post(
            f"/api/v1/sources/{source_id}/reconnect-link", json={"notify": "@alice"}
        )
        unknown = await api.post(f"/api/v1/sources/{source_id}/reconnect-link", json={"to": "U1"})
        other = await api.post(f"/api/v1/sources/{theirs}/reconnect-link")
        missing = await api.post("/api/v1/sources/999999/reconnect-link")
    assert bad_user.status_code == 422 and bad_user.json()["errors"][0]["field"] == "notify"
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "to"
    assert other.status_code == 404 and missing.status_code == 404
    assert other.json()["detail"].replace(str(theirs), "N") == missing.json()["detail"].replace(
        "999999", "N"
    )
    assert await harness.rows("SELECT count(*) FROM connect_attempts") == [(0,)]


async def test_a_facebook_page_hands_over_its_page_token(network_bot: Any) -> None:
    async with network_bot("facebook") as (h, fake):
        fake.add_account("u-1", "Fay Book")
        tokens = fake.issue_tokens("u-1")
        fake.add_page("u-1", "page-1", "Acme Page")
        page_token = fake.page_tokens("u-1", tokens["access_token"])["page-1"]
        (source_id,) = await add_sources(
            h, {"network": "facebook", "account_id": "page-1", "name": "Acme Page"}
        )
        async with h.services.ctx.db.begin() as session:  # as a page reconnect stores it
            source = await session.get(Source, source_id)
            assert source is not None
            page = TokenSet(page_token, None, None, None)
            add_credential(session, h.services.ctx, source, page, h.clock.now())
        async with checked_api(h, await new_key(h)) as api:
            answer = await api.post(f"/api/v1/sources/{source_id}/token")
        assert answer.json()["access_token"] == page_token
