"""The sandbox's Block Kit renderer, on the output of every builder in bot/blocks/: the
sample calls of tests/block_samples.py, which has one for each public builder (a builder
without one fails tests/blocks/test_samples.py), so no block type the bot sends can be left
unrendered in the sandbox.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from block_samples import BLOCK_TYPES, NOW, SAMPLES, Sample, src

from bot.blocks import (
    Message,
    replies,
)
from bot.demo.render import UNSUPPORTED, Names, mrkdwn, render_blocks
from bot.domain import (
    Status,
)

NAMES = Names(users={"U1": "Alex Kim", "U2": "Sam Rivera"}, channels={"C1": "social-team"})
HOSTILE = "<!channel> Acme & <@U999|boss> <https://evil.test|click> <script>x</script>"


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
