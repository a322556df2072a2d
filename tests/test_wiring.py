"""The app's wiring: manifest vs listeners, log redaction, scheduler jobs."""

from __future__ import annotations

import logging
from pathlib import Path

import yaml
from conftest import Harness
from fakes import slack_requests

from bot.logs import RedactOAuthPaths
from bot.scheduler import create_scheduler

MANIFEST = Path(__file__).parent.parent / "manifest.yml"


async def test_every_manifest_command_and_event_has_a_listener(harness: Harness) -> None:
    """Bolt answers 404 to a request no listener takes, and Slack then retries events."""
    manifest = yaml.safe_load(MANIFEST.read_text())
    for command in manifest["features"]["slash_commands"]:
        body, _ = slack_requests.slash_command(
            command=command["command"], text="help", response_url=harness.slack.response_url("m")
        )
        assert (await harness.send(body)).status_code == 200, command["command"]
    for event in manifest["settings"]["event_subscriptions"]["bot_events"]:
        body, _ = slack_requests.event_callback({"type": event, "user": "U1", "tab": "messages"})
        assert (await harness.send(body)).status_code == 200, event
    body, _ = slack_requests.event_callback({"type": "reaction_added", "user": "U1"})
    assert (await harness.send(body)).status_code == 404  # the check above can fail


def test_access_log_hides_oauth_secrets() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", "/oauth/callback/linkedin?code=SECRET&state=STATE", "1.1", 200),
        None,
    )
    RedactOAuthPaths().filter(record)
    assert "SECRET" not in record.getMessage() and "STATE" not in record.getMessage()
    assert "/oauth/callback/linkedin?…" in record.getMessage()

    start = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", "/oauth/start/LINKTOKEN", "1.1", 302),
        None,
    )
    RedactOAuthPaths().filter(start)
    assert "LINKTOKEN" not in start.getMessage()


async def test_scheduler_runs_scan_and_digest(harness: Harness) -> None:
    scheduler = create_scheduler(harness.services)
    assert {job.id for job in scheduler.get_jobs()} == {"scan", "digest"}
