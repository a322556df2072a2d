"""Sample calls of every public Block Kit builder in bot/blocks/, shared by the tests that
hold each builder to Slack's limits (tests/blocks/test_samples.py) and the demo sandbox's
renderer (tests/demo/test_render.py). A builder added without samples fails both.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import bot.blocks
from bot.blocks import (
    base,
    connect,
    digest,
    home,
    notice,
    oncall,
    replies,
    settings,
    sources,
    webhooks,
)
from bot.config import Settings
from bot.domain import (
    Attention,
    DeliveryProblem,
    Identity,
    LastError,
    SnoozeChoice,
    SourceInfo,
    Status,
    UserGroup,
    WebhookEndpointInfo,
    WorkspaceSettings,
)
from bot.networks import load_catalogue

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
NETWORKS = list(
    load_catalogue(Settings.from_env({"LINKEDIN_CLIENT_ID": "i", "LINKEDIN_CLIENT_SECRET": "s"}))
)
HOSTILE = "<!channel> Acme & <@U999|boss> <https://evil.test|click>"


def src(status: Status = Status.ACTIVE, name: str = "Acme Corp", **extra: Any) -> SourceInfo:
    expires = {
        Status.ACTIVE: NOW + timedelta(days=50),
        Status.EXPIRING: NOW + timedelta(days=3),
        Status.EXPIRED: NOW - timedelta(days=1),
        Status.REVOKED: NOW + timedelta(days=20),
    }[status]
    values: dict[str, Any] = {
        "id": 40 + len(name),
        "workspace_id": "T1",
        "network": "linkedin",
        "network_title": "LinkedIn",
        "account_id": f"acct-{name}",
        "name": name,
        "status": status,
        "expires_at": expires,
        "last_error": LastError("revoked", "LinkedIn says access was removed", NOW)
        if status is Status.REVOKED
        else None,
    }
    values.update(extra)
    return SourceInfo(**values)


BLIP = LastError("transient", "X is not answering (HTTP 503)", NOW)
EVERY_STATUS = [
    src(Status.ACTIVE, connected_by="U1", connected_as="Sam Rivera"),
    src(Status.ACTIVE, "Acme Renews", renews_at=NOW + timedelta(days=40)),
    src(Status.EXPIRING, "Acme Soon"),
    src(Status.EXPIRED, "Acme Gone"),
    src(Status.REVOKED, "Acme Revoked", kind="organization"),
    src(Status.EXPIRED, HOSTILE),
    src(Status.EXPIRING, "Acme on X", network="x", network_title="X", last_error=BLIP),
]
CHOICES = (SnoozeChoice("1d", "In 1 day"), SnoozeChoice("3d", "Until it expires"))
ON_IT = Attention(
    claimed_by="U2", snoozed_by="U1", snoozed_until=NOW + timedelta(days=1), choices=CHOICES
)
FAILING = Attention(failing_since=NOW - timedelta(hours=2), choices=CHOICES)
ENTRIES = [
    notice.NoticeEntry(EVERY_STATUS[3], attention=ON_IT),
    notice.NoticeEntry(EVERY_STATUS[4], restored_by="U1", restored_at=NOW),
    notice.NoticeEntry(EVERY_STATUS[6], attention=FAILING),
]
RECOVERED = [
    notice.NoticeEntry(EVERY_STATUS[1], restored_by="scan", restored_at=NOW, recovered=True)
]
DIGEST = digest.DigestContent(
    day=date(2026, 11, 28),
    expired=[EVERY_STATUS[3], EVERY_STATUS[4]],
    expiring=[EVERY_STATUS[2]],
    restored=[src(Status.ACTIVE, "Acme Back", restored_by="U2", restored_at=NOW)],
    total=7,
)
HOME = home.HomeSettings(notify_channel="C1", digest_hour=9, digest_timezone="Europe/Paris")
PROBLEMS = [
    DeliveryProblem("Notices", "C1", "the bot is not in the channel", 3),
    DeliveryProblem("Webhooks", "https://hooks.example.test/in", "it answered 500"),
]
WEBHOOK = WebhookEndpointInfo(
    id=7,
    workspace_id="T1",
    url="https://hooks.example.test/in?token=x",
    event_types=None,
    created_at=NOW,
    disabled_at=NOW,
    disabled_reason="it answered 500 for 3 days",
)
GROUPS = [UserGroup("S0OPS", "ops", "Ops"), UserGroup("S0SOCIAL", "social", "Social")]
WORKSPACE = WorkspaceSettings(
    notify_channel="C1", escalation_target="group", escalation_group="S0OPS"
)

Sample = Callable[[], Any]
SAMPLES: dict[Callable[..., Any], list[Sample]] = {
    base.actions: [lambda: base.actions(base.button("Go", "go", value="1"), block_id="act")],
    base.button: [lambda: base.button("Alone", "alone", value="v", style="primary")],
    base.context: [lambda: base.context("one", "*two*", "<@U2>")],
    base.divider: [base.divider],
    base.header: [lambda: base.header(":lock: A header")],
    base.mrkdwn: [lambda: base.mrkdwn("*bold* <@U1> <#C1>")],
    base.plain: [lambda: base.plain(":alarm_clock: Plain")],
    base.section: [lambda: base.section("With a button", base.button("Go", "go"), block_id="s")],
    connect.connect_link: [
        lambda: connect.connect_link("https://bot.test/oauth/start/t", "LinkedIn", 10, src())
    ],
    connect.as_modal: [
        lambda: connect.as_modal(connect.connect_link("https://b.test/s", "LinkedIn", 10))
    ],
    digest.digest: [lambda: digest.digest(DIGEST, NOW)],
    home.home_view: [
        lambda: home.home_view(EVERY_STATUS, NETWORKS, HOME, NOW, PROBLEMS),
        lambda: home.home_view([], [], HOME, NOW),
    ],
    home.problem_blocks: [lambda: home.problem_blocks(PROBLEMS * 4)],
    notice.expiry_notice: [
        lambda: notice.expiry_notice(ENTRIES, NOW, PARIS),
        lambda: notice.expiry_notice(ENTRIES[1:2], NOW),
    ],
    notice.warning_notice: [
        lambda: notice.warning_notice([notice.NoticeEntry(EVERY_STATUS[2], attention=ON_IT)], NOW)
    ],
    notice.failing_notice: [
        lambda: notice.failing_notice(ENTRIES[2:], NOW, PARIS),
        lambda: notice.failing_notice(RECOVERED, NOW, PARIS),
    ],
    notice.reconnected_reply: [lambda: notice.reconnected_reply(EVERY_STATUS[0], "U1")],
    notice.wrong_account_reply: [
        lambda: notice.wrong_account_reply(EVERY_STATUS[0], Identity("x", "Jordan Lee"), "U1"),
        lambda: notice.wrong_account_reply(EVERY_STATUS[4], Identity("x", "J"), "U1", ("A", "B")),
    ],
    notice.connected_dm: [lambda: notice.connected_dm(EVERY_STATUS[0], created=True)],
    oncall.failing_blocks: [
        lambda: oncall.failing_blocks(EVERY_STATUS[6], NOW - timedelta(hours=1), NOW, PARIS)
    ],
    oncall.workflow_actions: [
        lambda: oncall.workflow_actions(EVERY_STATUS[3], ON_IT),
        lambda: oncall.workflow_actions(EVERY_STATUS[3], Attention()),
    ],
    oncall.recovered_reply: [lambda: oncall.recovered_reply(EVERY_STATUS[1], NOW, PARIS)],
    oncall.claim_reminder: [
        lambda: oncall.claim_reminder(EVERY_STATUS[3], NOW - timedelta(hours=4), NOW)
    ],
    oncall.escalation_reply: [
        lambda: oncall.escalation_reply(EVERY_STATUS[3], 24, "U1", "U2", ["U8", "U9"]),
        lambda: oncall.escalation_reply(EVERY_STATUS[5], 24, None, None, (), "S0OPS"),
        lambda: oncall.escalation_reply(EVERY_STATUS[4], 1, "api-key:tool", None),
    ],
    replies.sources_list: [
        lambda: replies.sources_list(EVERY_STATUS, NOW),
        lambda: replies.sources_list([], NOW, "expired"),
    ],
    replies.help_message: [lambda: replies.help_message(NETWORKS, "I didn't get that.")],
    replies.short: [lambda: replies.short("A short answer with `code`.")],
    settings.settings_modal: [
        lambda: settings.settings_modal(WORKSPACE, [("linkedin", "LinkedIn")], GROUPS),
        lambda: settings.settings_modal(WorkspaceSettings(notify_channel=None), [], []),
    ],
    sources.reconnect_button: [lambda: sources.reconnect_button(EVERY_STATUS[3])],
    sources.action_blocks: [
        lambda: sources.action_blocks(EVERY_STATUS[2], NOW),
        lambda: sources.action_blocks(EVERY_STATUS[4], NOW),
    ],
    sources.source_list_blocks: [
        lambda: sources.source_list_blocks(EVERY_STATUS * 20, NOW, 12, "See /sources.")
    ],
    webhooks.webhook_disabled_message: [lambda: webhooks.webhook_disabled_message(WEBHOOK)],
    webhooks.disabled_webhooks_blocks: [lambda: webhooks.disabled_webhooks_blocks([WEBHOOK])],
}

BUILDS_BLOCK_KIT = re.compile(r"\bMessage\b|\bBlock\b|^dict\[str, (Any|object)\]$")
BLOCK_TYPES = {"section", "header", "context", "actions", "divider", "image", "input", "rich_text"}


def public_builders() -> list[Callable[..., Any]]:
    """Every public function of bot/blocks/ that returns Block Kit (a message, view, block,
    element or text object), as opposed to strings and helpers."""
    found = []
    for info in pkgutil.iter_modules(bot.blocks.__path__):
        module = importlib.import_module(f"bot.blocks.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or function.__module__ != module.__name__:
                continue
            returns = str(inspect.signature(function).return_annotation)
            if BUILDS_BLOCK_KIT.search(returns):
                found.append(function)
    return found
