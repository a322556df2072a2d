"""The one error handler: it tells the person, logs what matters, and never raises itself."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from conftest import TEAM, Harness, bot_env, running_bot
from fakes import slack_requests
from fakes.oauth_provider import FakeOAuthProvider
from fakes.slack_api import FakeSlack

from bot.blocks.texts import SOMETHING_WENT_WRONG
from bot.clock import FrozenClock

NOWHERE = "http://127.0.0.1:9"  # nothing listens on the discard port


async def test_slack_unreachable_is_acked_without_a_500_or_a_traceback(
    database_url: str,
    slack: FakeSlack,
    linkedin: FakeOAuthProvider,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = {**bot_env(database_url, slack, linkedin), "SLACK_API_URL": f"{NOWHERE}/api/"}
    async with running_bot(env, slack, linkedin, clock) as h:
        for n in range(3):
            body, _ = slack_requests.slash_command(
                text="", team_id=TEAM, response_url=f"{NOWHERE}/response/{n}"
            )
            with caplog.at_level(logging.INFO):
                response = await h.send(body)
            assert response.status_code == 200
    assert "Traceback" not in caplog.text
    failures = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert failures, "the failure is logged"
    assert all(r.exc_info is None for r in failures)
    assert all(len(r.getMessage().splitlines()) == 1 for r in failures)


async def test_a_bug_in_a_listener_is_logged_with_its_traceback_and_the_person_told(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    acked = asyncio.Event()

    async def broken(*args: Any, **kwargs: Any) -> Any:
        # After Slack has its ack: Bolt forgets an ack whose listener fails within its 10 ms
        # polling interval, which would turn this test into one of Bolt's timing.
        await acked.wait()
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(harness.services.sources, "listing", broken)
    body, _ = slack_requests.slash_command(
        text="", team_id=TEAM, response_url=harness.slack.response_url("bug")
    )
    assert (await harness.send(body)).status_code == 200
    acked.set()
    (call,) = await harness.slack.wait_for("response_url")
    assert call.args["text"] == SOMETHING_WENT_WRONG
    (failure,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failure.exc_info is not None and failure.exc_info[0] is ZeroDivisionError
