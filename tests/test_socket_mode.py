"""Socket Mode: Slack's requests over a websocket the bot opens, against the fake Slack's
Socket Mode server on 127.0.0.1 (hello, envelopes, acks by envelope_id)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from conftest import CHANNEL, TEAM, Harness, bot_env, link_from, reconnect_buttons, running_bot
from fakes import slack_requests
from fakes.slack_api import FakeSlack
from fakes.socket_mode import EVENTS_API, INTERACTIVE, SLASH_COMMANDS

from bot import ids

APP_TOKEN = "xapp-1-A0APP-socket-token"


@pytest.fixture
async def socket_bot(
    database_url: str, slack: FakeSlack, linkedin: Any, clock: Any
) -> AsyncIterator[Harness]:
    env = bot_env(database_url, slack, linkedin)
    del env["SLACK_SIGNING_SECRET"]  # nothing comes over HTTP to verify
    env["SLACK_APP_TOKEN"] = APP_TOKEN
    async with running_bot(env, slack, linkedin, clock) as h:
        await slack.socket_mode.connected()
        yield h


async def command(h: Harness, text: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``/sources text`` over the socket: (the ack, what was posted to the response_url)."""
    before = len(h.slack.successful_calls("response_url"))
    body, _ = slack_requests.slash_command(
        text=text, team_id=TEAM, response_url=h.slack.response_url(name)
    )
    envelope = await h.slack.socket_mode.send(
        SLASH_COMMANDS, slack_requests.envelope_payload(body), accepts_response_payload=True
    )
    ack = await h.slack.socket_mode.ack(envelope)
    posted = await h.slack.wait_for("response_url", before + 1)
    return ack, posted[-1].args


async def test_the_bot_opens_the_socket_with_its_app_token(socket_bot: Harness) -> None:
    (opened,) = socket_bot.slack.successful_calls("apps.connections.open")
    assert opened.token == APP_TOKEN
    assert (await socket_bot.http.post("/slack/events", content="{}")).status_code == 404
    assert (await socket_bot.http.get("/healthz")).status_code == 200  # HTTP still serves


async def test_sources_and_a_reconnect_click_over_the_socket(socket_bot: Harness) -> None:
    h = socket_bot
    ack, help_reply = await command(h, "help", "help")
    assert ack["envelope_id"].startswith("env-")
    assert help_reply["text"] == "How to use /sources"

    h.linkedin.add_account("urn-acme", "Acme Corp")
    h.linkedin.login_as("urn-acme")
    _, link_reply = await command(h, "connect linkedin", "connect")
    async with h.browser() as browser:
        page = await browser.get(link_from(link_reply))
    assert page.status_code == 200
    h.clock.advance(timedelta(days=61))
    await h.scan()
    notice = h.slack.successful_calls("chat.postMessage")[-1]
    assert notice.args["channel"] == CHANNEL

    _, listing = await command(h, "", "list")
    (button,) = reconnect_buttons(listing)
    before = len(h.slack.successful_calls("response_url"))
    body, _ = slack_requests.block_actions(
        ids.RECONNECT_SOURCE,
        button["value"],
        user_id="U2",
        team_id=TEAM,
        channel_id=CHANNEL,
        message_ts=notice.response["ts"],
        response_url=h.slack.response_url("click"),
    )
    envelope = await h.slack.socket_mode.send(INTERACTIVE, slack_requests.envelope_payload(body))
    await h.slack.socket_mode.ack(envelope)
    reply = (await h.slack.wait_for("response_url", before + 1))[-1].args
    assert reply["response_type"] == "ephemeral"
    async with h.browser() as browser:
        page = await browser.get(link_from(reply))
    assert page.status_code == 200 and "reconnected" in page.text
    (source,) = await h.services.sources.list(TEAM)
    assert source.status == "active" and source.restored_by == "U2"
    await h.drain()
    thread = [c for c in h.slack.successful_calls("chat.postMessage") if c.args.get("thread_ts")]
    assert thread[-1].args["thread_ts"] == notice.response["ts"]


async def test_events_come_over_the_socket_too(socket_bot: Harness) -> None:
    body, _ = slack_requests.app_home_opened(user_id="U1", team_id=TEAM)
    envelope = await socket_bot.slack.socket_mode.send(
        EVENTS_API, slack_requests.envelope_payload(body)
    )
    await socket_bot.slack.socket_mode.ack(envelope)
    (home,) = await socket_bot.slack.wait_for("views.publish")
    assert home.args["view"]["type"] == "home"


async def test_stopping_the_bot_closes_the_socket(
    database_url: str, slack: FakeSlack, linkedin: Any, clock: Any
) -> None:
    env = {**bot_env(database_url, slack, linkedin), "SLACK_APP_TOKEN": APP_TOKEN}
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(running_bot(env, slack, linkedin, clock))
        await slack.socket_mode.connected()
    await slack.socket_mode.disconnected()
