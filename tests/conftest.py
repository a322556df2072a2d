"""The test harness: the real ASGI app, a fake Slack and a fake LinkedIn on 127.0.0.1.

Slack requests are signed as Slack signs them and go through the app's real routes; work
that listeners do after their ack is awaited through the fake Slack's ``wait_for``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from cryptography.fernet import Fernet
from fakes import slack_requests
from fakes.networks import FAKES
from fakes.oauth_provider import FakeOAuthProvider
from fakes.slack_api import Approval, FakeSlack
from sqlalchemy import text

from bot import ids
from bot.app import Bot, create_app
from bot.clock import FrozenClock
from bot.config import Settings
from bot.store.db import create_engine

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
PUBLIC_URL = "http://bot.test"
INSTALL_URL = "https://bot.test"
TEAM = "T0001"
CHANNEL = "C0NOTICES"
START = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
ENCRYPTION_KEY = Fernet.generate_key().decode()


@pytest.fixture
async def database_url(tmp_path: Any) -> AsyncIterator[str]:
    """SQLite in a temporary file, or a freshly emptied TEST_DATABASE_URL (PostgreSQL in CI)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path / 'bot.db'}"
        return
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    yield url


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack(team_id=TEAM)
    await fake.start()
    yield fake
    await fake.stop()
    assert fake.violations == [], "Block Kit payloads broke Slack's limits"


@pytest.fixture
async def linkedin() -> AsyncIterator[FakeOAuthProvider]:
    provider = FakeOAuthProvider()
    await provider.start()
    yield provider
    await provider.stop()


@pytest.fixture
def clock(linkedin: FakeOAuthProvider) -> FrozenClock:
    clock = FrozenClock(START)
    linkedin.now = clock.now  # the provider's token lifetimes follow the same clock
    return clock


def slack_env(database_url: str, slack: FakeSlack) -> dict[str, str]:
    """A bot-token bot on ``database_url`` talking to the fake ``slack``: what every bot the
    tests start needs, before its networks."""
    return {
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": slack.api_url,
        "SLACK_NOTIFY_CHANNEL": CHANNEL,
        "DATABASE_URL": database_url,
        "TOKEN_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "PUBLIC_URL": PUBLIC_URL,
    }


def bot_env(database_url: str, slack: FakeSlack, linkedin: FakeOAuthProvider) -> dict[str, str]:
    return {
        **slack_env(database_url, slack),
        "LINKEDIN_CLIENT_ID": linkedin.client_id,
        "LINKEDIN_CLIENT_SECRET": linkedin.client_secret,
        "LINKEDIN_AUTHORIZE_URL": linkedin.authorize_url,
        "LINKEDIN_TOKEN_URL": linkedin.token_url,
        "LINKEDIN_USERINFO_URL": linkedin.userinfo_url,
        # The fake Slack has no rate limits; tests of pacing set their own interval.
        "SLACK_CHANNEL_INTERVAL_SECONDS": "0",
    }


@dataclass
class Harness:
    bot: Bot
    slack: FakeSlack
    linkedin: FakeOAuthProvider
    clock: FrozenClock
    http: httpx2.AsyncClient
    public_url: str = PUBLIC_URL

    @property
    def services(self) -> Any:
        return self.bot.services

    async def send(
        self, body: str, *, timestamp: int | None = None, headers: Mapping[str, str] | None = None
    ) -> httpx2.Response:
        signed = slack_requests.sign(body, SIGNING_SECRET, timestamp or int(time.time()))
        return await self.http.post(
            "/slack/events", content=body, headers={**signed, **(headers or {})}
        )

    async def command(
        self, text: str = "", user: str = "U1", team: str = TEAM, **options: Any
    ) -> dict[str, Any]:
        """Run ``/sources text`` and return what the bot posted to the response_url."""
        before = len(self.slack.successful_calls("response_url"))
        name = f"cmd-{before}"  # each invocation has its own response_url, as in Slack
        body, _ = slack_requests.slash_command(
            text=text,
            user_id=user,
            team_id=team,
            response_url=self.slack.response_url(name),
            **options,
        )
        response = await self.send(body)
        assert response.status_code == 200
        calls = await self.slack.wait_for("response_url", before + 1)
        return calls[-1].args

    async def click(
        self, action_id: str, value: str | None, user: str = "U1", team: str = TEAM, **kwargs: Any
    ) -> httpx2.Response:
        body, _ = slack_requests.block_actions(
            action_id, value, user_id=user, team_id=team, **kwargs
        )
        return await self.send(body)

    async def event(
        self, event: dict[str, Any], headers: Mapping[str, str] | None = None, team: str = TEAM
    ) -> httpx2.Response:
        body, _ = slack_requests.event_callback(event, team_id=team)
        return await self.send(body, headers=headers)

    async def install(self, approval: Approval) -> httpx2.Response:
        """A person installs the app through /slack/install, approving ``approval`` on the
        fake Slack's install page; returns the page they end on."""
        self.slack.approve_next_install(approval)
        async with self.browser() as browser:
            return await browser.get(f"{self.public_url}/slack/install")

    async def reconnect_link(self, notice: Mapping[str, Any], user: str = "U2") -> str:
        """Click the notice's only Reconnect button as ``user``; return the private link."""
        (button,) = reconnect_buttons(notice)
        before = len(self.slack.successful_calls("response_url"))
        response = await self.click(
            ids.RECONNECT_SOURCE,
            button["value"],
            user=user,
            channel_id=CHANNEL,
            message_ts=notice["ts"],
            response_url=self.slack.response_url(f"click-{user}-{before}"),
        )
        assert response.status_code == 200
        calls = await self.slack.wait_for("response_url", before + 1)
        assert calls[-1].args["response_type"] == "ephemeral"
        return link_from(calls[-1].args)

    def browser(self) -> httpx2.AsyncClient:
        """A person's browser: the bot's URLs reach the app, the provider's its real server.

        After each page, what the bot queued is delivered (as the running dispatcher would, a
        moment later), so a test reads Slack's state once the person has seen the page.
        """

        async def delivered(_: httpx2.Response) -> None:
            await self.drain()

        return httpx2.AsyncClient(
            mounts={self.public_url: httpx2.ASGITransport(app=self.bot.asgi)},
            follow_redirects=True,
            event_hooks={"response": [delivered]},
        )

    async def scan(self) -> Any:
        """One scan, then what it queued delivered (as `sources-bot scan` does)."""
        report = await self.bot.services.scan.run()
        await self.drain()
        return report

    async def check(self) -> Any:
        """The team workflow's check that follows each scheduled scan (claim reminders,
        snoozes that ran out, escalations), then what it queued delivered."""
        report = await self.bot.services.workflow.run_due()
        await self.drain()
        return report

    async def digest_due(self) -> int:
        """The scheduler's digest check, then what it queued delivered."""
        queued = await self.bot.services.digest.run_due()
        await self.drain()
        return int(queued)

    async def drain(self) -> Any:
        """Deliver everything the outbox holds that is due now (the background dispatcher
        would too, a moment later); returns the dispatcher's report."""
        return await self.bot.services.dispatcher.drain()

    async def uninstalled(self, team: str) -> None:
        """Slack tells the bot that ``team`` uninstalled the app (recorded before the 200)."""
        body, _ = slack_requests.app_uninstalled(team)
        assert (await self.send(body)).status_code == 200

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.bot.engine.connect() as connection:
            return list((await connection.execute(text(sql), params)).all())


@contextlib.asynccontextmanager
async def running_bot(
    env: Mapping[str, str], slack: FakeSlack, linkedin: Any, clock: FrozenClock
) -> AsyncIterator[Harness]:
    """The bot built from ``env``, started, with a client for its ASGI app."""
    bot = create_app(Settings.from_env(env), clock=clock, scheduler=False)
    await bot.start()
    public_url = env.get("PUBLIC_URL", PUBLIC_URL)
    try:
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=bot.asgi), base_url=public_url
        ) as http:
            yield Harness(bot, slack, linkedin, clock, http, public_url)
    finally:
        await bot.stop()


def install_env(database_url: str, slack: FakeSlack, linkedin: Any) -> dict[str, str]:
    """Install mode: no bot token; the Slack app's client id and secret. PUBLIC_URL is https,
    as for any real install (Bolt's state cookie is Secure, and browsers keep it so)."""
    env = bot_env(database_url, slack, linkedin)
    del env["SLACK_BOT_TOKEN"]
    return {
        **env,
        "PUBLIC_URL": INSTALL_URL,
        "SLACK_CLIENT_ID": slack.client_id,
        "SLACK_CLIENT_SECRET": slack.client_secret,
        "SLACK_AUTHORIZE_URL": slack.authorize_url,
    }


@pytest.fixture
async def installer(
    database_url: str, slack: FakeSlack, linkedin: FakeOAuthProvider, clock: FrozenClock
) -> AsyncIterator[Harness]:
    """The bot in install mode, on the test's clock (the fake Slack's tokens expire by it)."""
    slack.now = clock.now
    async with running_bot(install_env(database_url, slack, linkedin), slack, linkedin, clock) as h:
        yield h


@pytest.fixture
async def harness(
    database_url: str, slack: FakeSlack, linkedin: FakeOAuthProvider, clock: FrozenClock
) -> AsyncIterator[Harness]:
    async with running_bot(bot_env(database_url, slack, linkedin), slack, linkedin, clock) as h:
        yield h


def blocks_text(payload: Mapping[str, Any]) -> str:
    """Every piece of text in a message or view, to assert on what a person reads."""
    return json.dumps(payload.get("blocks", []), ensure_ascii=False)


def link_from(payload: Mapping[str, Any]) -> str:
    """The URL of the 'Open <network>' button in a link message or modal."""
    for block in payload["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == ids.OPEN_OAUTH_LINK:
                return str(element["url"])
    raise AssertionError(f"no link button in {payload}")


def reconnect_buttons(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Reconnect buttons of a message or view, in order."""
    return [
        block["accessory"]
        for block in payload["blocks"]
        if block.get("accessory", {}).get("action_id") == ids.RECONNECT_SOURCE
    ]


@pytest.fixture
async def network_bot(
    database_url: str, slack: FakeSlack, clock: FrozenClock
) -> AsyncIterator[Callable[..., contextlib.AbstractAsyncContextManager[Harness]]]:
    """``async with network_bot("x") as (h, fake)``: the bot with one fake network configured.

    ``env`` adds variables for the bot; other keywords go to the fake. The fake runs on the
    test's clock; ``h.linkedin`` is the fake itself.
    """

    @contextlib.asynccontextmanager
    async def start(
        name: str, env: Mapping[str, str] | None = None, **fake_options: Any
    ) -> AsyncIterator[tuple[Harness, Any]]:
        fake = FAKES[name](**fake_options)
        fake.now = clock.now
        await fake.start()
        try:
            bot_env = {
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_API_URL": slack.api_url,
                "SLACK_NOTIFY_CHANNEL": CHANNEL,
                "DATABASE_URL": database_url,
                "PUBLIC_URL": PUBLIC_URL,
                "TOKEN_ENCRYPTION_KEY": ENCRYPTION_KEY,
                "SLACK_CHANNEL_INTERVAL_SECONDS": "0",
                **fake.env(),
                **(env or {}),
            }
            async with running_bot(bot_env, slack, fake, clock) as h:
                await h.services.workspaces.ensure(TEAM, "Acme")
                yield h, fake
        finally:
            await fake.stop()

    yield start


@pytest.fixture
async def demo(tmp_path: Any) -> AsyncIterator[Any]:
    """`sources-bot demo` served for real on 127.0.0.1 at a free port (a bot.demo Running)."""
    from bot.demo.server import bind, running

    with bind(0) as sock:
        async with running(sock, tmp_path) as run:
            yield run
