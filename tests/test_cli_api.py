"""`sources-bot api-keys ...` and `sources-bot webhooks ...`, run as an operator runs them
(``bot.cli.main`` in a thread, on the test's database) beside the running bot, whose API and
webhook deliveries then use what the commands made."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from api_support import OTHER_TEAM, append_event
from conftest import ENCRYPTION_KEY, TEAM, Harness, bot_env
from cryptography.fernet import Fernet
from fakes.oauth_provider import FakeOAuthProvider
from fakes.slack_api import FakeSlack
from fakes.webhook_receiver import WebhookReceiver

from bot.cli import main
from bot.services.events import EVENT_TYPES, EventType

Run = Any


@pytest.fixture
async def cli(
    harness: Harness,
    database_url: str,
    slack: FakeSlack,
    linkedin: FakeOAuthProvider,
    capsys: pytest.CaptureFixture[str],
) -> AsyncIterator[Run]:
    """``await cli("api-keys", "list")`` -> (exit code, stdout, stderr). The bot's clock is
    set to the wall clock, which the commands use."""
    harness.clock.set(datetime.now(UTC))
    await harness.services.dispatcher.stop()  # the test delivers with h.drain()
    await harness.services.workspaces.ensure(TEAM, "Acme")
    env = bot_env(database_url, slack, linkedin)

    async def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(argv), env)
        out, err = capsys.readouterr()
        return code, out, err

    yield run


@pytest.fixture
async def receiver(harness: Harness) -> AsyncIterator[WebhookReceiver]:
    fake = WebhookReceiver(now=harness.clock.now)
    await fake.start()
    yield fake
    await fake.stop()
    assert fake.violations == []


def one_line(err: str, *words: str) -> None:
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err


# --- api-keys ----------------------------------------------------------------------------


async def test_a_created_key_is_printed_once_stored_as_a_hash_and_opens_the_api(
    harness: Harness, cli: Run
) -> None:
    code, out, err = await cli("api-keys", "create", "--workspace", TEAM, "--name", "buffer")
    assert code == 0, err
    key = out.strip()
    assert out.count("\n") == 1
    assert key.startswith("sbk_") and len(key) >= 4 + 43  # 32 random bytes, url-safe
    assert "shown only this once" in err and key not in err

    ((key_hash, prefix, name),) = await harness.rows("SELECT key_hash, prefix, name FROM api_keys")
    assert key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(prefix) and len(prefix) < 16
    assert name == "buffer"
    dump = json.dumps([list(map(str, row)) for row in await harness.rows("SELECT * FROM api_keys")])
    assert key[len(prefix) :] not in dump

    ok = await harness.http.get("/api/v1/sources", headers={"authorization": f"Bearer {key}"})
    assert ok.status_code == 200

    code, out, err = await cli("api-keys", "list")
    assert code == 0, err
    assert "buffer" in out and prefix in out and key[len(prefix) :] not in out
    code, out, _ = await cli("api-keys", "list", "--json")
    (listed,) = json.loads(out)
    assert listed["name"] == "buffer"
    assert listed["workspace"] == TEAM
    assert listed["prefix"] == prefix
    assert listed["last_used_at"] is not None  # the call above
    assert listed["revoked_at"] is None

    code, out, err = await cli("api-keys", "revoke", str(listed["id"]))
    assert code == 0, err
    assert "revoked API key" in out and "buffer" in out
    refused = await harness.http.get("/api/v1/sources", headers={"authorization": f"Bearer {key}"})
    assert refused.status_code == 401
    code, out, _ = await cli("api-keys", "list", "--json")
    assert json.loads(out)[0]["revoked_at"] is not None


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("api-keys", "create", "--workspace", "T0TYPO", "--name", "x"), ("T0TYPO", TEAM)),
        (("api-keys", "create", "--workspace", TEAM, "--name", " "), ("name",)),
        (("api-keys", "revoke", "4242"), ("4242",)),
    ],
)
async def test_api_key_mistakes_end_with_one_sentence(
    harness: Harness, cli: Run, argv: tuple[str, ...], words: tuple[str, ...]
) -> None:
    code, out, err = await cli(*argv)

    assert code == 1
    assert out == ""
    one_line(err, *words)
    assert await harness.rows("SELECT id FROM api_keys") == []


async def test_two_live_keys_of_a_workspace_cannot_share_a_name(harness: Harness, cli: Run) -> None:
    await harness.services.workspaces.ensure(OTHER_TEAM)
    assert (await cli("api-keys", "create", "--workspace", TEAM, "--name", "n"))[0] == 0
    code, _, err = await cli("api-keys", "create", "--workspace", TEAM, "--name", "n")
    assert code == 1
    one_line(err, "already has a key named")
    assert (await cli("api-keys", "create", "--workspace", OTHER_TEAM, "--name", "n"))[0] == 0


# --- webhooks ----------------------------------------------------------------------------


async def test_an_added_endpoint_prints_its_secret_once_and_receives_signed_events(
    harness: Harness, cli: Run, receiver: WebhookReceiver
) -> None:
    code, out, err = await cli("webhooks", "add", receiver.url, "--workspace", TEAM)
    assert code == 0, err
    secret = out.strip()
    assert secret.startswith("whsec_") and out.count("\n") == 1
    assert "every event" in err and secret not in err
    ((stored,),) = await harness.rows("SELECT secret FROM webhook_endpoints")
    assert secret not in stored
    assert Fernet(ENCRYPTION_KEY.encode()).decrypt(stored.encode()).decode() == secret

    receiver.secret = secret
    event = await append_event(harness, EventType.EXPIRED, None)
    await harness.drain()
    assert receiver.delivered_ids() == [event]

    code, out, err = await cli("webhooks", "list")
    assert code == 0, err
    assert receiver.url in out and "all events" in out and "active" in out
    assert secret not in out
    code, out, _ = await cli("webhooks", "list", "--json")
    (endpoint,) = json.loads(out)
    assert endpoint["url"] == receiver.url
    assert endpoint["events"] is None
    assert endpoint["disabled_at"] is None


async def test_events_can_be_chosen_and_unknown_ones_are_refused(
    harness: Harness, cli: Run
) -> None:
    code, _, err = await cli(
        "webhooks",
        "add",
        "https://hooks.example/a",
        "--workspace",
        TEAM,
        "--events",
        "source.expired,source.restored",
    )
    assert code == 0, err
    assert "source.expired, source.restored" in err
    code, out, err = await cli(
        "webhooks",
        "add",
        "https://hooks.example/b",
        "--workspace",
        TEAM,
        "--events",
        "source.expired,source.exploded",
    )
    assert (code, out) == (1, "")
    one_line(err, "source.exploded", *EVENT_TYPES)

    code, out, _ = await cli("webhooks", "list", "--json")
    (endpoint,) = json.loads(out)
    assert endpoint["events"] == ["source.expired", "source.restored"]


@pytest.mark.parametrize(
    ("url", "word"),
    [
        ("ftp://hooks.example/a", "http"),
        ("https://me:pw@hooks.example/a", "credentials"),
        ("hooks.example/a", "http"),
    ],
)
async def test_urls_that_are_not_plain_http_are_refused(
    harness: Harness, cli: Run, url: str, word: str
) -> None:
    code, out, err = await cli("webhooks", "add", url, "--workspace", TEAM)

    assert (code, out) == (1, "")
    one_line(err, word)
    assert "pw" not in err
    assert await harness.rows("SELECT id FROM webhook_endpoints") == []


async def test_failed_deliveries_are_listed_and_redelivered_with_the_same_webhook_id(
    harness: Harness, cli: Run, receiver: WebhookReceiver
) -> None:
    code, out, _ = await cli("webhooks", "add", receiver.url, "--workspace", TEAM)
    receiver.secret = out.strip()
    receiver.answer(500, times=1)
    event = await append_event(harness, EventType.REVOKED, None)
    delivered = await append_event(harness, EventType.RESTORED, 1)
    await harness.drain()

    code, out, err = await cli("webhooks", "deliveries", "--failed")
    assert code == 0, err
    (line,) = out.strip().splitlines()
    assert event in line and "retrying" in line and "HTTP 500" in line
    code, out, _ = await cli("webhooks", "deliveries", "--limit", "1", "--json")
    (newest,) = json.loads(out)
    assert newest["event_id"] == delivered and newest["status"] == "delivered"
    code, out, _ = await cli("webhooks", "deliveries", "--json")
    failed_id = next(d["id"] for d in json.loads(out) if d["event_id"] == event)

    code, out, err = await cli("webhooks", "redeliver", str(failed_id))
    assert code == 0, err
    assert event in out and "same webhook-id" in out
    harness.clock.advance(timedelta(minutes=1))
    await harness.drain()

    assert sorted(receiver.delivered_ids()) == sorted([event, event, delivered])
    code, _, err = await cli("webhooks", "redeliver", "4242")
    assert code == 1
    one_line(err, "4242")


async def test_remove_and_enable(harness: Harness, cli: Run, receiver: WebhookReceiver) -> None:
    code, out, _ = await cli("webhooks", "add", receiver.url + "?token=abc", "--workspace", TEAM)
    receiver.secret = out.strip()
    code, out, _ = await cli("webhooks", "list", "--json")
    endpoint_id = json.loads(out)[0]["id"]

    code, out, err = await cli("webhooks", "enable", str(endpoint_id))
    assert code == 0, err
    code, out, err = await cli("webhooks", "remove", str(endpoint_id))
    assert code == 0, err
    assert f"removed webhook endpoint {endpoint_id}" in out
    assert "token=abc" not in out  # the query may hold the receiver's own secret
    await append_event(harness, EventType.EXPIRED, None)
    await harness.drain()
    assert receiver.requests == []
    assert (await cli("webhooks", "list"))[1].startswith("no webhook endpoints")
    code, _, err = await cli("webhooks", "remove", str(endpoint_id))
    assert code == 1
    one_line(err, str(endpoint_id))


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("api-keys", "create"), "Prints the key"),
        (("api-keys", "list"), "Print every key"),
        (("api-keys", "revoke"), "Prints the key revoked"),
        (("webhooks", "add"), "Prints its signing secret"),
        (("webhooks", "list"), "Print every endpoint"),
        (("webhooks", "remove"), "Prints what was removed"),
        (("webhooks", "enable"), "Prints the endpoint"),
        (("webhooks", "deliveries"), "Print deliveries"),
        (("webhooks", "redeliver"), "Prints the new delivery"),
    ],
)
def test_each_commands_help_says_what_it_prints(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], says: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"], {})
    assert exited.value.code == 0
    assert says in " ".join(capsys.readouterr().out.split())


# --- sources import, announced -------------------------------------------------------------


async def test_imported_sources_are_announced_once_to_the_workspaces_webhooks(
    harness: Harness, cli: Run, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    code, out, _ = await cli("webhooks", "add", receiver.url, "--workspace", TEAM)
    receiver.secret = out.strip()
    expires = (harness.clock.now() + timedelta(days=30)).isoformat()

    def record(account: str, team: str) -> dict[str, Any]:
        return {
            "network": "linkedin",
            "account_id": account,
            "name": f"Page {account}",
            "access_token": f"token-{account}",
            "expires_at": expires,
            "workspace": team,
        }

    records = [record("a", TEAM), record("b", TEAM), record("c", OTHER_TEAM)]
    path = tmp_path / "sources.json"
    path.write_text(json.dumps(records))
    code, _, err = await cli("sources", "import", str(path))
    assert code == 0, err

    events = await harness.rows(
        "SELECT e.workspace_id, s.account_id, e.actor, e.payload FROM events e "
        "JOIN sources s ON s.id = e.source_id WHERE e.type = 'source.connected' "
        "ORDER BY s.account_id"
    )
    assert [(team, account, actor) for team, account, actor, _ in events] == [
        (TEAM, "a", "cli"),
        (TEAM, "b", "cli"),
        (OTHER_TEAM, "c", "cli"),
    ]
    assert all(_json(payload) == {"imported": True} for *_, payload in events)
    harness.clock.set(datetime.now(UTC))  # the command's rows are due by its clock
    await harness.drain()
    bodies = [received.json for received in receiver.delivered]
    assert sorted(b["data"]["source"]["account_id"] for b in bodies) == ["a", "b"]
    assert {b["type"] for b in bodies} == {"source.connected"}
    assert all(b["data"]["payload"] == {"imported": True} for b in bodies)
    assert all(b["data"]["source"]["status"] == "active" for b in bodies)

    code, out, err = await cli("sources", "import", str(path))  # known sources: updated
    assert code == 0 and "0 new, 3 updated" in out, err
    assert len(await harness.rows("SELECT id FROM events")) == 3
    await harness.drain()
    assert len(receiver.delivered) == 2


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
