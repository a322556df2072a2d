"""The sandbox's Block Kit renderer, on the output of every builder in bot/blocks/.

``SAMPLES`` holds sample calls per public builder; ``test_every_builder_has_a_sample`` fails
when a builder is added to bot/blocks/ without one, so no block type the bot sends can be
left unrendered in the sandbox.
"""

from __future__ import annotations

import html
import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

import bot.blocks
from bot.blocks import (
    Message,
    base,
    connect,
    digest,
    home,
    notice,
    replies,
    settings,
    sources,
    webhooks,
)
from bot.config import Settings
from bot.demo.render import UNSUPPORTED, Names, mrkdwn, render_blocks
from bot.domain import (
    GROUP,
    DeliveryProblem,
    Identity,
    LastError,
    SourceInfo,
    Status,
    UserGroup,
    WebhookEndpointInfo,
    WorkspaceSettings,
)
from bot.networks import load_catalogue

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
NAMES = Names(users={"U1": "Alex Kim", "U2": "Sam Rivera"}, channels={"C1": "social-team"})
NETWORKS = list(
    load_catalogue(Settings.from_env({"LINKEDIN_CLIENT_ID": "i", "LINKEDIN_CLIENT_SECRET": "s"}))
)
HOSTILE = "<!channel> Acme & <@U999|boss> <https://evil.test|click> <script>x</script>"


def src(
    status: Status = Status.ACTIVE, name: str = "Acme Corp", kind: str = "account", **extra: Any
) -> SourceInfo:
    expires = {
        Status.ACTIVE: NOW + timedelta(days=50),
        Status.EXPIRING: NOW + timedelta(days=3),
        Status.EXPIRED: NOW - timedelta(days=1),
        Status.REVOKED: NOW + timedelta(days=20),
    }[status]
    error = LastError("revoked", "LinkedIn says access was removed", NOW)
    values: dict[str, Any] = {
        "id": abs(hash(name)) % 10_000,
        "workspace_id": "T1",
        "network": "linkedin",
        "network_title": "LinkedIn",
        "account_id": f"acct-{name}",
        "name": name,
        "status": status,
        "expires_at": expires,
        "last_error": error if status is Status.REVOKED else None,
        "kind": kind,
    }
    values.update(extra)
    return SourceInfo(**values)


EVERY_STATUS = [
    src(Status.ACTIVE, "Acme Corp", connected_by="U1", connected_as="Sam Rivera"),
    src(Status.ACTIVE, "Acme Renews", renews_at=NOW + timedelta(days=40)),
    src(Status.EXPIRING, "Acme Soon"),
    src(Status.EXPIRED, "Acme Gone"),
    src(Status.REVOKED, "Acme Revoked", kind="organization"),
    src(Status.EXPIRED, HOSTILE),
]
DIGEST = digest.DigestContent(
    day=date(2026, 11, 28),
    expired=[EVERY_STATUS[3], EVERY_STATUS[4]],
    expiring=[EVERY_STATUS[2]],
    restored=[src(Status.ACTIVE, "Acme Back", restored_by="U2", restored_at=NOW)],
    total=6,
)
HOME = home.HomeSettings(notify_channel="C1", digest_hour=9, digest_timezone="Europe/Paris")
NO_CHANNEL = home.HomeSettings(notify_channel=None, digest_hour=9, digest_timezone="UTC")
PROBLEMS = [
    DeliveryProblem("Notices", "C1", "the bot is not in the channel", 3),
    DeliveryProblem("Digests", "U2", "Slack refused the message"),
    DeliveryProblem("Webhooks", "https://hooks.example.test/in", "it answered 500"),
]
WEBHOOK = WebhookEndpointInfo(
    id=7,
    workspace_id="T1",
    url="https://hooks.example.test/in?token=x",
    event_types=None,
    created_at=NOW,
    failing_since=NOW,
    disabled_at=NOW,
    disabled_reason="it answered 500 for 3 days",
)
ENTRIES = [
    notice.NoticeEntry(EVERY_STATUS[3]),
    notice.NoticeEntry(EVERY_STATUS[4], restored_by="U1", restored_at=NOW),
]

Sample = Callable[[], Any]
SAMPLES: dict[Callable[..., Any], list[Sample]] = {
    base.mrkdwn: [lambda: base.mrkdwn("*bold* _it_ ~gone~ `code` <@U1> <#C1> :lock:")],
    base.plain: [lambda: base.plain(":alarm_clock: Plain text")],
    base.header: [lambda: base.header(":lock: A header")],
    base.section: [
        lambda: base.section("Just text"),
        lambda: base.section("With a button", base.button("Go", "go_action"), block_id="s1"),
    ],
    base.context: [lambda: base.context("one", "*two*", "three <@U2>")],
    base.divider: [base.divider],
    base.actions: [
        lambda: base.actions(
            base.button("Primary", "a_primary", value="1", style="primary"),
            base.button("Danger", "a_danger", style="danger"),
            base.button("Link", "a_link", url="https://example.test/x"),
            block_id="act",
        )
    ],
    base.button: [lambda: base.button("Alone", "alone", value="v")],
    connect.connect_link: [
        lambda: connect.connect_link("https://bot.test/oauth/start/t", "LinkedIn", 10),
        lambda: connect.connect_link("https://bot.test/oauth/start/t", "LinkedIn", 10, src()),
    ],
    connect.as_modal: [
        lambda: connect.as_modal(connect.connect_link("https://b.test/s", "LinkedIn", 10))
    ],
    digest.digest: [
        lambda: digest.digest(DIGEST, NOW),
        lambda: digest.digest(digest.DigestContent(date(2026, 11, 28), [], [], [], total=3), NOW),
    ],
    home.home_view: [
        lambda: home.home_view(EVERY_STATUS, NETWORKS, HOME, NOW, PROBLEMS),
        lambda: home.home_view([], NETWORKS[:1], NO_CHANNEL, NOW),
        lambda: home.home_view(EVERY_STATUS[:1], [], HOME, NOW),
    ],
    settings.settings_modal: [
        lambda: settings.settings_modal(WorkspaceSettings(notify_channel=None), [], []),
        lambda: settings.settings_modal(
            WorkspaceSettings(
                notify_channel="C1",
                network_channels={"linkedin": "C1"},
                digest_hour=8,
                digest_timezone="Europe/Paris",
                connect_role=GROUP,
                connect_group="S1",
            ),
            [("linkedin", "LinkedIn"), ("x", "X")],
            [UserGroup("S1", "social", "Social team"), UserGroup("S2", "ops", "Ops")],
        ),
    ],
    home.problem_blocks: [lambda: home.problem_blocks(PROBLEMS * 3)],
    webhooks.webhook_disabled_message: [lambda: webhooks.webhook_disabled_message(WEBHOOK)],
    webhooks.disabled_webhooks_blocks: [lambda: webhooks.disabled_webhooks_blocks([WEBHOOK])],
    notice.expiry_notice: [
        lambda: notice.expiry_notice(ENTRIES, NOW),
        lambda: notice.expiry_notice(ENTRIES[1:], NOW),
    ],
    notice.warning_notice: [
        lambda: notice.warning_notice([notice.NoticeEntry(EVERY_STATUS[2])], NOW)
    ],
    notice.reconnected_reply: [lambda: notice.reconnected_reply(EVERY_STATUS[0], "U1")],
    notice.wrong_account_reply: [
        lambda: notice.wrong_account_reply(EVERY_STATUS[0], Identity("x", "Jordan Lee"), "U1"),
        lambda: notice.wrong_account_reply(
            EVERY_STATUS[4], Identity("x", "Jordan Lee"), "U1", ("Acme Labs", "Acme Careers")
        ),
    ],
    notice.connected_dm: [
        lambda: notice.connected_dm(EVERY_STATUS[0], created=True),
        lambda: notice.connected_dm(EVERY_STATUS[1], created=False),
    ],
    replies.sources_list: [
        lambda: replies.sources_list(EVERY_STATUS, NOW),
        lambda: replies.sources_list([], NOW, "expired"),
    ],
    replies.help_message: [lambda: replies.help_message(NETWORKS, "I didn't get that.")],
    replies.short: [lambda: replies.short("A short answer with `code`.")],
    sources.reconnect_button: [lambda: sources.reconnect_button(EVERY_STATUS[3])],
    sources.action_blocks: [
        lambda: sources.action_blocks(EVERY_STATUS[2], NOW),
        lambda: sources.action_blocks(EVERY_STATUS[4], NOW),
    ],
    sources.source_list_blocks: [
        lambda: sources.source_list_blocks(EVERY_STATUS * 20, NOW, 12, "See /sources.")
    ],
}

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
            if re.search(r"\bMessage\b|\bBlock\b|^dict\[str, (Any|object)\]$", returns):
                found.append(function)
    return found


def test_every_builder_has_a_sample() -> None:
    missing = [f"{f.__module__}.{f.__name__}" for f in public_builders() if f not in SAMPLES]
    assert not missing, f"add sample calls to SAMPLES in {__file__} for: {missing}"
    assert len(public_builders()) >= 20  # the discovery itself finds the builders


def as_blocks(output: Any) -> list[dict[str, Any]]:
    """A builder's output as the blocks a message or view would carry."""
    if isinstance(output, Message):
        return output.blocks
    if isinstance(output, list):
        return output
    if "blocks" in output:  # a view
        return list(output["blocks"])
    if output.get("type") in BLOCK_TYPES:
        return [output]
    if output.get("type") in {"mrkdwn", "plain_text"}:
        return [{"type": "section", "text": output}, {"type": "context", "elements": [output]}]
    return [{"type": "actions", "elements": [output]}]  # an interactive element


def texts(value: Any) -> list[str]:
    """Every text of every text object in ``value``."""
    if isinstance(value, dict):
        own = [value["text"]] if value.get("type") in {"mrkdwn", "plain_text"} else []
        return own + [t for v in value.values() for t in texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in texts(v)]
    return []


def words(text: str) -> list[str]:
    """The words a person should read from ``text``: without link targets, mention ids or
    emoji codes, which the renderer turns into names, labels and emoji."""
    text = re.sub(r"<([^<>|]*)\|([^<>]*)>", r" \2 ", text)
    text = re.sub(r"<[^<>]*>", " ", text)
    text = re.sub(r":[a-z0-9_+\-]+:", " ", text)
    text = html.unescape(text)
    return re.findall(r"[A-Za-z0-9]{2,}", text)


def visible(rendered: str) -> str:
    """The text a person sees: the page's text, and the placeholders of empty inputs."""
    placeholders = re.findall(r'placeholder="([^"]*)"', rendered)
    return html.unescape(" ".join([re.sub(r"<[^>]+>", " ", rendered), *placeholders]))


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    ids = []
    for block in blocks:
        elements = list(block.get("elements", [])) if block["type"] == "actions" else []
        if "accessory" in block:
            elements.append(block["accessory"])
        ids += [e["action_id"] for e in elements if "action_id" in e]
    return ids


CASES = [
    pytest.param(sample, id=f"{builder.__module__.rsplit('.', 1)[1]}.{builder.__name__}[{n}]")
    for builder, samples in SAMPLES.items()
    for n, sample in enumerate(samples)
]


@pytest.mark.parametrize("sample", CASES)
def test_renderer_shows_every_block_text_and_control(sample: Sample) -> None:
    blocks = as_blocks(sample())
    assert blocks
    rendered = render_blocks(blocks, NAMES)
    assert UNSUPPORTED not in rendered
    shown = visible(rendered)
    for text in texts(blocks):
        for word in words(text):
            assert word in shown, f"{word!r} of {text!r} is not shown"
    for action_id in action_ids(blocks):
        assert f'data-action-id="{html.escape(action_id)}"' in rendered
    for block in blocks:
        if block["type"] == "header":
            assert 'class="bk-header"' in rendered
        if block["type"] == "divider":
            assert 'class="bk-divider"' in rendered


def test_user_text_cannot_become_markup_or_links() -> None:
    rendered = render_blocks(
        replies.sources_list([src(Status.EXPIRED, HOSTILE)], NOW).blocks, NAMES
    )
    assert "<script>" not in rendered and "<a " not in rendered
    assert "&lt;script&gt;" in rendered
    assert "@channel" not in visible(rendered).replace("<!channel>", "")


def test_mrkdwn() -> None:
    assert mrkdwn("*Bold* and _italic_ and ~strike~", NAMES) == (
        "<b>Bold</b> and <i>italic</i> and <s>strike</s>"
    )
    assert mrkdwn("snake_case_name and 2*3*4", NAMES) == "snake_case_name and 2*3*4"
    assert mrkdwn("<@U1> in <#C1>", NAMES) == (
        '<span class="bk-mention">@Alex Kim</span> in <span class="bk-mention">#social-team</span>'
    )
    assert mrkdwn("<https://x.test/a?b=1&amp;c=2|the link>", NAMES) == (
        '<a href="https://x.test/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">'
        "the link</a>"
    )
    assert mrkdwn("<javascript:alert(1)|click>", NAMES) == "click"
    assert mrkdwn("`*not bold*` :lock:", NAMES) == "<code>*not bold*</code> 🔒"
    assert mrkdwn("a &lt;b&gt; &amp; c\nnext", NAMES) == "a &lt;b&gt; &amp; c<br>next"


def test_image_blocks_show_their_alt_text_and_unknown_blocks_show_up() -> None:
    rendered = render_blocks(
        [
            {"type": "image", "image_url": "https://x.test/i.png", "alt_text": "A chart"},
            {
                "type": "context",
                "elements": [{"type": "image", "alt_text": "logo", "image_url": "u"}],
            },
            {"type": "video", "title": {"type": "plain_text", "text": "?"}},
        ],
        NAMES,
    )
    assert "A chart" in rendered and "logo" in rendered
    assert "https://x.test/i.png" not in rendered  # nothing is fetched
    assert f'class="{UNSUPPORTED}">Unsupported block: video' in rendered


def test_input_blocks_and_selects_in_modals() -> None:
    view = {
        "type": "modal",
        "blocks": [
            {
                "type": "input",
                "block_id": "name",
                "label": {"type": "plain_text", "text": "Name"},
                "hint": {"type": "plain_text", "text": "Who to ask"},
                "element": {"type": "plain_text_input", "action_id": "n", "initial_value": "Al"},
            },
            {
                "type": "input",
                "block_id": "hour",
                "optional": True,
                "label": {"type": "plain_text", "text": "Hour"},
                "element": {
                    "type": "static_select",
                    "action_id": "h",
                    "initial_option": {
                        "text": {"type": "plain_text", "text": "9:00"},
                        "value": "9",
                    },
                    "options": [
                        {"text": {"type": "plain_text", "text": f"{h}:00"}, "value": str(h)}
                        for h in (8, 9)
                    ],
                },
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "Channel"},
                "accessory": {
                    "type": "conversations_select",
                    "action_id": "c",
                    "initial_conversation": "C1",
                },
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "checkboxes",
                        "action_id": "k",
                        "options": [{"text": {"type": "mrkdwn", "text": "*On*"}, "value": "on"}],
                    },
                    {"type": "datepicker", "action_id": "d", "initial_date": "2026-12-01"},
                ],
            },
        ],
    }
    rendered = render_blocks(view["blocks"], NAMES)
    assert UNSUPPORTED not in rendered
    assert 'data-block-id="name"' in rendered and 'value="Al"' in rendered
    assert 'data-input="1"' in rendered and "(optional)" in rendered and "Who to ask" in rendered
    assert '<option value="9" selected>9:00</option>' in rendered
    assert '<option value="C1" selected>#social-team</option>' in rendered
    assert 'type="checkbox"' in rendered and 'type="date"' in rendered


def test_section_fields() -> None:
    block = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*Acme*"},
        "fields": [
            {"type": "mrkdwn", "text": "*Network*\nLinkedIn"},
            {"type": "plain_text", "text": "Expires 27 Jan"},
        ],
    }
    rendered = render_blocks([block], NAMES)
    assert rendered.count('class="bk-field"') == 2
    assert "<b>Network</b><br>LinkedIn" in rendered and "Expires 27 Jan" in rendered
