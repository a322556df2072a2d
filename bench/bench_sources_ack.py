"""Benchmark (not a test): how fast `/sources` acks and answers with 500 sources in a workspace.

Builds the app as tests/conftest.py does (SQLite in a temporary file, a fake Slack on
127.0.0.1), imports 500 sources through the importer, then sends signed `/sources` slash
commands through httpx2's ASGI transport and times:

- the HTTP ack (Slack gives up after 3 seconds),
- the arrival of the answer at the response_url, and its number of blocks,
- the App Home: app_home_opened until views.publish arrives, and its number of blocks.

Run from the repository root:  /work/venv/bin/python bench/bench_sources_ack.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the bot, and tests/fakes + tests/blockkit.py

import httpx2  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from fakes import slack_requests  # noqa: E402
from fakes.slack_api import FakeSlack  # noqa: E402

from bot.app import create_app  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.services.importer import import_records, parse_records  # noqa: E402

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-token"
PUBLIC_URL = "http://bot.test"
TEAM = "T0001"
CHANNEL = "C0NOTICES"

SOURCES = 500
EXPIRED = 20
EXPIRING = 30
COMMANDS = 50
HOME_OPENS = 20


def records(now: datetime) -> list[dict[str, Any]]:
    """500 LinkedIn sources without refresh tokens (so none renews by itself): a few expired,
    some expiring within the warning window."""
    out = []
    for n in range(SOURCES):
        if n < EXPIRED:
            expires = now - timedelta(days=1 + n % 5)
        elif n < EXPIRED + EXPIRING:
            expires = now + timedelta(days=1 + n % 6, hours=3)
        else:
            expires = now + timedelta(days=20 + n % 40)
        out.append(
            {
                "network": "linkedin",
                "account_id": f"urn:li:organization:{100000 + n}",
                "name": f"Company Page {n:03d}",
                "access_token": f"bench-access-{n}",
                "scopes": ["openid", "profile"],
                "expires_at": expires.isoformat(),
                "workspace": TEAM,
            }
        )
    return out


def ms(seconds: Sequence[float]) -> str:
    values = sorted(seconds)
    median = statistics.median(values) * 1000
    p95 = values[max(0, round(0.95 * len(values)) - 1)] * 1000
    return f"median {median:7.1f} ms   p95 {p95:7.1f} ms   max {values[-1] * 1000:7.1f} ms"


async def timed(make: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = await make()
    return time.perf_counter() - start, result


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sources-bot-bench-") as tmp:
        slack = FakeSlack(team_id=TEAM)
        await slack.start()
        settings = Settings.from_env(
            {
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_API_URL": slack.api_url,
                "SLACK_NOTIFY_CHANNEL": CHANNEL,
                "DATABASE_URL": f"sqlite:///{tmp}/bot.db",
                "PUBLIC_URL": PUBLIC_URL,
                "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
                "LINKEDIN_CLIENT_ID": "bench-client",
                "LINKEDIN_CLIENT_SECRET": "bench-secret",
            }
        )
        bot = create_app(settings, scheduler=False)
        await bot.start()
        http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=bot.asgi), base_url=PUBLIC_URL)
        try:
            await run(bot, slack, http)
        finally:
            await http.aclose()
            await bot.stop()
            await slack.stop()
        if slack.violations:
            print("\nBlock Kit violations:", *slack.violations, sep="\n  ")


async def send(http: httpx2.AsyncClient, body: str) -> httpx2.Response:
    headers = slack_requests.sign(body, SIGNING_SECRET)
    response = await http.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response


async def run(bot: Any, slack: FakeSlack, http: httpx2.AsyncClient) -> None:
    services = bot.services
    ctx = services.ctx
    parsed = parse_records(records(ctx.clock.now()), ctx.catalogue)
    took, (created, _) = await timed(lambda: import_records(ctx, services.workspaces, parsed))
    print(f"import: {created} sources through bot.services.importer in {took * 1000:.0f} ms")
    print(f"        ({EXPIRED} expired, {EXPIRING} expiring, the rest active; SQLite file)")

    # Warm-up: first request pays for imports and connection set-up.
    body, _ = slack_requests.slash_command(
        text="", team_id=TEAM, response_url=slack.response_url("warm-up")
    )
    await send(http, body)
    await slack.wait_for("response_url", 1, timeout=30)

    acks: list[float] = []
    answers: list[float] = []
    blocks: set[int] = set()
    for n in range(COMMANDS):
        before = len(slack.successful_calls("response_url"))
        body, _ = slack_requests.slash_command(
            text="", team_id=TEAM, response_url=slack.response_url(f"cmd-{n}")
        )
        start = time.perf_counter()
        await send(http, body)
        acks.append(time.perf_counter() - start)
        calls = await slack.wait_for("response_url", before + 1, timeout=30)
        answers.append(time.perf_counter() - start)
        blocks.add(len(calls[-1].args["blocks"]))

    print(f"\n/sources with {SOURCES} sources, {COMMANDS} commands one after another")
    print(f"  HTTP ack          {ms(acks)}")
    print(f"  response_url post {ms(answers)}")
    print(f"  blocks in answer  {sorted(blocks)}")

    # The same 50 commands arriving at once.
    before = len(slack.successful_calls("response_url"))
    bodies = [
        slack_requests.slash_command(
            text="", team_id=TEAM, response_url=slack.response_url(f"burst-{n}")
        )[0]
        for n in range(COMMANDS)
    ]
    start = time.perf_counter()

    async def ack(body: str) -> float:
        await send(http, body)
        return time.perf_counter() - start

    burst_acks = await asyncio.gather(*(ack(body) for body in bodies))
    await slack.wait_for("response_url", before + COMMANDS, timeout=60)
    all_answered = time.perf_counter() - start
    print(f"\n/sources, {COMMANDS} commands sent at once")
    print(f"  HTTP ack          {ms(burst_acks)}")
    print(f"  all {COMMANDS} answers posted after {all_answered * 1000:.0f} ms")

    home: list[float] = []
    view_blocks: set[int] = set()
    for n in range(HOME_OPENS):
        before = len(slack.successful_calls("views.publish"))
        body, _ = slack_requests.app_home_opened(user_id=f"U{n:04d}", team_id=TEAM)
        start = time.perf_counter()
        await send(http, body)
        calls = await slack.wait_for("views.publish", before + 1, timeout=30)
        home.append(time.perf_counter() - start)
        view_blocks.add(len(calls[-1].args["view"]["blocks"]))

    direct: list[float] = []
    for n in range(HOME_OPENS):
        start = time.perf_counter()
        await services.home.publish(TEAM, f"U{n:04d}", services.ctx.slack)
        direct.append(time.perf_counter() - start)

    print(f"\nApp Home with {SOURCES} sources, {HOME_OPENS} opens")
    print(f"  app_home_opened -> views.publish  {ms(home)}")
    print(f"  HomeService.publish (direct)      {ms(direct)}")
    print(f"  blocks in view    {sorted(view_blocks)}")


if __name__ == "__main__":
    asyncio.run(main())
