"""Benchmark (not a test): what authorizing each request costs in install mode.

In bot-token mode Bolt's authorization is one cached auth.test; in install mode every request
reads its workspace's installation (decrypting the token) and its workspace row. This builds
both bots on SQLite with a fake Slack on 127.0.0.1, installs the same workspace into the
install-mode bot through the real /slack/install, then times the HTTP ack and the answer of
signed `/sources help` commands in each, and prints install mode against bot-token mode (the
floor, measured in the same run).

Run from the repository root:  .venv/bin/python bench/bench_install_authorize.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the bot, and tests/fakes + tests/blockkit.py

import httpx2  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from fakes import slack_requests  # noqa: E402
from fakes.slack_api import Approval, FakeSlack  # noqa: E402

from bot.app import Bot, create_app  # noqa: E402
from bot.config import Settings  # noqa: E402

SIGNING_SECRET = "bench-signing-secret"
TEAM = "T0001"
COMMANDS = 200
ROUNDS = 3


def ms(seconds: Sequence[float]) -> str:
    values = sorted(seconds)
    median = statistics.median(values) * 1000
    p95 = values[max(0, round(0.95 * len(values)) - 1)] * 1000
    return f"median {median:6.1f} ms   p95 {p95:6.1f} ms"


async def commands(
    bot: Bot, slack: FakeSlack, url: str, name: str
) -> tuple[list[float], list[float]]:
    """(acks, answers) of COMMANDS `/sources help`, one after another."""
    acks, answers = [], []
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=bot.asgi), base_url=url
    ) as http:
        for n in range(COMMANDS):
            before = len(slack.successful_calls("response_url"))
            body, _ = slack_requests.slash_command(
                text="help", team_id=TEAM, response_url=slack.response_url(f"{name}-{n}")
            )
            start = time.perf_counter()
            response = await http.post(
                "/slack/events", content=body, headers=slack_requests.sign(body, SIGNING_SECRET)
            )
            acks.append(time.perf_counter() - start)
            assert response.status_code == 200, response.text
            await slack.wait_for("response_url", before + 1, timeout=30)
            answers.append(time.perf_counter() - start)
    return acks, answers


async def main() -> None:
    slack = FakeSlack(team_id=TEAM, response_url_max_uses=None)
    await slack.start()
    key = Fernet.generate_key().decode()
    try:
        with tempfile.TemporaryDirectory(prefix="sources-bot-bench-") as tmp:
            common = {
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": slack.api_url,
                "TOKEN_ENCRYPTION_KEY": key,
            }
            token_bot = create_app(
                Settings.from_env(
                    {
                        **common,
                        "SLACK_BOT_TOKEN": "xoxb-bench",
                        "DATABASE_URL": f"sqlite:///{tmp}/token.db",
                        "PUBLIC_URL": "http://token.test",
                    }
                ),
                scheduler=False,
            )
            install_bot = create_app(
                Settings.from_env(
                    {
                        **common,
                        "SLACK_CLIENT_ID": slack.client_id,
                        "SLACK_CLIENT_SECRET": slack.client_secret,
                        "SLACK_AUTHORIZE_URL": slack.authorize_url,
                        "DATABASE_URL": f"sqlite:///{tmp}/install.db",
                        "PUBLIC_URL": "https://install.test",
                    }
                ),
                scheduler=False,
            )
            for bot in (token_bot, install_bot):
                await bot.start()
            slack.approve_next_install(Approval(TEAM, "U1"))
            async with httpx2.AsyncClient(
                mounts={"https://install.test": httpx2.ASGITransport(app=install_bot.asgi)},
                follow_redirects=True,
            ) as browser:
                page = await browser.get("https://install.test/slack/install")
            assert page.status_code == 200, page.text
            try:
                results: dict[str, tuple[list[float], list[float]]] = {
                    "token": ([], []),
                    "install": ([], []),
                }
                for _ in range(ROUNDS):  # interleaved, so both see the same machine load
                    for name, bot, url in (
                        ("token", token_bot, "http://token.test"),
                        ("install", install_bot, "https://install.test"),
                    ):
                        acks, answers = await commands(
                            bot, slack, url, f"{name}{len(results[name][0])}"
                        )
                        results[name][0].extend(acks)
                        results[name][1].extend(answers)
            finally:
                for bot in (token_bot, install_bot):
                    await bot.stop()
    finally:
        await slack.stop()

    print(f"/sources help, {COMMANDS * ROUNDS} commands per mode (SQLite)")
    for name, (acks, answers) in results.items():
        print(f"  {name:<8} ack     {ms(acks)}")
        print(f"  {name:<8} answer  {ms(answers)}")
    floor = statistics.median(results["token"][1])
    ratio = statistics.median(results["install"][1]) / floor
    print(f"  install / token, median answer: {ratio:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
