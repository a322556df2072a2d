"""One broken source never stops a scan; only a network's answers count as its failures."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from conftest import TEAM, Harness
from cryptography.fernet import Fernet
from sqlalchemy import text
from test_renewal import X_ACCOUNT, import_live, stored, x_source

from bot.oauth.client import OAuthClient

NAMES = ["Undecryptable", "Gone Network", "Bad Status", "Buggy Check", "Healthy"]


async def five_sources(h: Harness, fake: Any) -> dict[str, int]:
    ids = {}
    for n, name in enumerate(NAMES):
        fake.add_account(f"urn-{n}", name)
        ids[name] = await import_live(h, fake, f"urn-{n}", name)
    return ids


async def break_four(h: Harness, ids: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    other_key = Fernet(Fernet.generate_key())
    async with h.bot.engine.begin() as connection:
        await connection.execute(
            text("UPDATE credentials SET access_token = :token WHERE source_id = :id"),
            {"token": other_key.encrypt(b"a token").decode(), "id": ids["Undecryptable"]},
        )
        await connection.execute(
            text("UPDATE sources SET network = 'myspace' WHERE id = :id"),
            {"id": ids["Gone Network"]},
        )
        await connection.execute(
            text("UPDATE sources SET status = 'bogus' WHERE id = :id"), {"id": ids["Bad Status"]}
        )
    buggy = ids["Buggy Check"]
    identity = OAuthClient.identity

    async def sometimes_buggy(self: OAuthClient, access_token: str) -> Any:
        answer = await identity(self, access_token)
        if answer.account_id == f"urn-{NAMES.index('Buggy Check')}":
            raise ZeroDivisionError("a bug in the check")
        return answer

    monkeypatch.setattr(OAuthClient, "identity", sometimes_buggy)
    assert buggy


async def test_broken_sources_get_an_internal_error_and_the_rest_are_scanned(
    network_bot: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with network_bot("linkedin") as (h, fake):
        ids = await five_sources(h, fake)
        await break_four(h, ids, monkeypatch)

        with caplog.at_level(logging.ERROR):
            report = await h.services.scan.run()

        assert report.checked == 5
        assert len(report.internal) == 4
        assert "internal errors: 4" in report.summary()
        healthy = await stored(h, ids["Healthy"])
        assert healthy.checked_at == h.clock.now()  # the scan went on past the broken ones
        assert healthy.last_error is None

        errors = {name: (await stored(h, ids[name])).last_error for name in NAMES[:4]}
        assert {error["kind"] for error in errors.values() if error} == {"internal"}
        assert "cannot be decrypted with TOKEN_ENCRYPTION_KEY" in errors["Undecryptable"]["reason"]
        assert "'myspace' is no longer in the catalogue" in errors["Gone Network"]["reason"]
        assert "(ValueError)" in errors["Bad Status"]["reason"]
        assert "(ZeroDivisionError)" in errors["Buggy Check"]["reason"]
        tracebacks = [r for r in caplog.records if r.exc_info is not None]
        assert len(tracebacks) == 4  # each with its traceback in the log

        # The next scan counts them again but rewrites nothing while nothing changed.
        h.clock.advance(timedelta(minutes=5))
        again = await h.services.scan.run()
        assert len(again.internal) == 4
        assert (await stored(h, ids["Gone Network"])).last_error == errors["Gone Network"]


async def test_an_internal_error_ends_when_the_source_checks_out_again(
    network_bot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with network_bot("linkedin") as (h, fake):
        ids = await five_sources(h, fake)
        await break_four(h, ids, monkeypatch)
        await h.services.scan.run()
        async with h.bot.engine.begin() as connection:
            await connection.execute(
                text("UPDATE sources SET network = 'linkedin' WHERE id = :id"),
                {"id": ids["Gone Network"]},
            )
        report = await h.services.scan.run()
        assert len(report.internal) == 3
        assert (await stored(h, ids["Gone Network"])).last_error is None


async def test_a_bug_while_renewing_is_internal_not_a_network_failure(
    network_bot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with network_bot("x") as (h, fake):
        source_id, _ = await x_source(h, fake)

        async def bug(*args: Any, **kwargs: Any) -> Any:
            raise AttributeError("a bug inside the renewal")

        monkeypatch.setattr(AsyncOAuth2Client, "refresh_token", bug)
        h.clock.advance(timedelta(minutes=110))  # inside X's renewal window
        report = await h.services.scan.run()

        assert report.transient == []
        (line,) = report.internal
        assert "(AttributeError)" in line
        source = await stored(h, source_id)
        assert source.last_error is not None and source.last_error["kind"] == "internal"
        assert source.failures == 0  # no failure budget is spent on a bug
        assert source.status == "active"
        assert source.lease_owner is None  # the lease was given back


async def test_an_unreadable_token_answer_stays_a_network_failure(network_bot: Any) -> None:
    async with network_bot("x") as (h, fake):
        source_id, _ = await x_source(h, fake)
        fake.fail("refresh", status=200, body="<html>maintenance</html>")
        h.clock.advance(timedelta(minutes=110))
        report = await h.services.scan.run()

        assert report.internal == []
        (line,) = report.transient
        assert "X gave an unreadable answer" in line
        source = await stored(h, source_id)
        assert source.last_error is not None and source.last_error["kind"] == "transient"
        assert source.failures == 1
        assert X_ACCOUNT and TEAM
