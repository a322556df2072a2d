"""Each Block Kit rule in tests/blockkit.py refuses a bad payload and accepts a good one."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from blockkit import assert_valid_message, assert_valid_view, validate_message, validate_view


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def button(action_id: str = "b", text: str = "Go", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": plain(text), **extra}


def section(text: str = "hello") -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(text)}


def message(*blocks: dict[str, Any], text: str = "fallback") -> dict[str, Any]:
    return {"text": text, "blocks": list(blocks)}


def actions(*elements: dict[str, Any], block_id: str = "act") -> dict[str, Any]:
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}


def option(text: str = "One", value: str = "1") -> dict[str, Any]:
    return {"text": plain(text), "value": value}


def modal(*blocks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "modal", "title": plain("Connect"), "blocks": list(blocks), **extra}


def home(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"type": "home", "blocks": list(blocks)}


GOOD_MESSAGE = message(
    {"type": "header", "block_id": "h", "text": plain("Sources")},
    {
        "type": "section",
        "block_id": "s",
        "text": mrkdwn("*LinkedIn* expires in 3 days"),
        "fields": [mrkdwn("a"), plain("b")],
        "accessory": button("renew", "Renew", style="primary", value="src-1"),
    },
    {
        "type": "context",
        "elements": [
            mrkdwn("ctx"),
            {"type": "image", "image_url": "https://x/y.png", "alt_text": "logo"},
        ],
    },
    {"type": "divider"},
    actions(
        button("a1", "Open", url="https://example.com"),
        button("a2", "Remove", style="danger"),
        {"type": "overflow", "action_id": "more", "options": [option("Snooze", "snooze")]},
        {
            "type": "static_select",
            "action_id": "pick",
            "placeholder": plain("Pick"),
            "options": [option()],
        },
        {"type": "users_select", "action_id": "who", "placeholder": plain("Who")},
        {"type": "conversations_select", "action_id": "where", "placeholder": plain("Where")},
    ),
    {"type": "image", "image_url": "https://x/y.png", "alt_text": "chart"},
    {
        "type": "rich_text",
        "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": "x"}]}],
    },
)


def test_good_payloads_are_valid() -> None:
    assert validate_message(GOOD_MESSAGE) == []
    assert_valid_message(GOOD_MESSAGE)
    view = modal(
        {
            "type": "input",
            "block_id": "i",
            "label": plain("Name"),
            "element": {"type": "plain_text_input", "action_id": "n"},
        },
        submit=plain("Save"),
        close=plain("Cancel"),
    )
    assert validate_view(view) == []
    assert_valid_view(view)
    assert validate_view(home(*GOOD_MESSAGE["blocks"])) == []


def test_assert_helpers_raise_with_the_violations() -> None:
    with pytest.raises(AssertionError, match="no non-empty plain-text fallback"):
        assert_valid_message({"blocks": [section()]})
    with pytest.raises(AssertionError, match="title"):
        assert_valid_view(modal(section(), title=plain("x" * 25)))


def mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    payload = copy.deepcopy(GOOD_MESSAGE)
    change(payload)
    return payload


def _block(payload: dict[str, Any], block_type: str) -> dict[str, Any]:
    return next(b for b in payload["blocks"] if b["type"] == block_type)


def _set(block_type: str, path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        target: Any = _block(payload, block_type)
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


# (id, change that breaks GOOD_MESSAGE, fragment expected in a violation)
MESSAGE_CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("no fallback text", lambda p: p.pop("text"), "fallback"),
    ("blank fallback text", lambda p: p.update(text="  "), "fallback"),
    ("51 blocks", lambda p: p.update(blocks=[section()] * 51), "51 blocks (max 50)"),
    ("block_id too long", _set("section", ["block_id"], "x" * 256), "256 characters (max 255)"),
    ("duplicate block_id", _set("divider", ["block_id"], "s"), "repeats"),
    ("unknown block type", _set("divider", ["type"], "table"), "unknown block type"),
    ("header too long", _set("header", ["text", "text"], "x" * 151), "max 150"),
    ("header mrkdwn", _set("header", ["text"], mrkdwn("x")), "must be plain_text"),
    ("section text too long", _set("section", ["text", "text"], "x" * 3001), "max 3000"),
    ("section empty text", _set("section", ["text", "text"], ""), "non-empty"),
    ("bad text type", _set("section", ["text", "type"], "markdown"), "plain_text or mrkdwn"),
    ("emoji on mrkdwn", _set("section", ["text", "emoji"], True), "not allowed on mrkdwn"),
    ("11 fields", _set("section", ["fields"], [mrkdwn("f")] * 11), "11 fields (max 10)"),
    ("field too long", _set("section", ["fields", 0, "text"], "x" * 2001), "max 2000"),
    ("section without text", lambda p: p["blocks"].append({"type": "section"}), "text or fields"),
    (
        "accessory button text too long",
        _set("section", ["accessory", "text", "text"], "x" * 76),
        "max 75",
    ),
    ("context 11 elements", _set("context", ["elements"], [mrkdwn("c")] * 11), "max 10"),
    ("context empty", _set("context", ["elements"], []), "non-empty"),
    (
        "actions 26 elements",
        _set("actions", ["elements"], [button(f"b{i}") for i in range(26)]),
        "max 25",
    ),
    (
        "button mrkdwn text",
        _set("actions", ["elements", 0, "text"], mrkdwn("x")),
        "must be plain_text",
    ),
    ("action_id too long", _set("actions", ["elements", 0, "action_id"], "a" * 256), "max 255"),
    ("value too long", _set("actions", ["elements", 0, "value"], "v" * 2001), "max 2000"),
    (
        "url too long",
        _set("actions", ["elements", 0, "url"], "https://x/" + "u" * 2991),
        "max 3000",
    ),
    ("bad style", _set("actions", ["elements", 0, "style"], "default"), "primary"),
    (
        "duplicate action_id in block",
        _set("actions", ["elements", 1, "action_id"], "a1"),
        "used more than once",
    ),
    (
        "select placeholder too long",
        _set("actions", ["elements", 3, "placeholder", "text"], "p" * 151),
        "max 150",
    ),
    (
        "users_select placeholder too long",
        _set("actions", ["elements", 4, "placeholder", "text"], "p" * 151),
        "max 150",
    ),
    (
        "conversations_select placeholder mrkdwn",
        _set("actions", ["elements", 5, "placeholder"], mrkdwn("p")),
        "must be plain_text",
    ),
    ("overflow no options", _set("actions", ["elements", 2, "options"], []), "must be 1..5"),
    (
        "overflow 6 options",
        _set("actions", ["elements", 2, "options"], [option()] * 6),
        "must be 1..5",
    ),
    (
        "overflow option text too long",
        _set("actions", ["elements", 2, "options", 0, "text", "text"], "o" * 76),
        "max 75",
    ),
    (
        "option value too long",
        _set("actions", ["elements", 3, "options", 0, "value"], "v" * 151),
        "max 150",
    ),
    ("unknown element", _set("actions", ["elements", 0, "type"], "link"), "not allowed here"),
    (
        "image without alt_text",
        lambda p: _block(p, "image").pop("alt_text"),
        "alt_text is required",
    ),
    (
        "rich_text unknown element",
        _set("rich_text", ["elements", 0, "type"], "para"),
        "rich_text element",
    ),
    ("blocks not a list", lambda p: p.update(blocks={"type": "divider"}), "must be an array"),
    ("bad response_type", lambda p: p.update(response_type="public"), "response_type"),
]


@pytest.mark.parametrize(
    ("change", "expected"), [c[1:] for c in MESSAGE_CASES], ids=[c[0] for c in MESSAGE_CASES]
)
def test_message_rule_catches_bad_payload(
    change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    violations = validate_message(mutated(change))
    assert len(violations) == 1, violations
    assert expected in violations[0]


def test_limits_are_inclusive() -> None:
    """Exactly at each limit is still valid (guards against off-by-one in the checks)."""
    at_limit = mutated(
        lambda p: p.update(
            blocks=[
                {"type": "header", "block_id": "b" * 255, "text": plain("h" * 150)},
                {
                    "type": "section",
                    "text": mrkdwn("s" * 3000),
                    "fields": [mrkdwn("f" * 2000)] * 10,
                },
                {"type": "context", "elements": [mrkdwn("c")] * 10},
                actions(
                    button("a" * 255, "t" * 75, value="v" * 2000, url="u" * 3000),
                    *[button(f"x{i}") for i in range(24)],
                ),
                *[{"type": "divider"} for _ in range(46)],
            ]
        )
    )
    assert len(at_limit["blocks"]) == 50
    assert validate_message(at_limit) == []


def test_same_action_id_in_different_blocks_is_allowed() -> None:
    payload = message(
        actions(button("renew"), block_id="one"), actions(button("renew"), block_id="two")
    )
    assert validate_message(payload) == []


def test_message_without_any_content_is_refused_but_delete_original_is_fine() -> None:
    assert any("no text, blocks" in v for v in validate_message({}))
    assert validate_message({"delete_original": True}) == []
    assert validate_message({"text": "just text"}) == []


def test_form_encoded_blocks_string_is_decoded() -> None:
    assert validate_message({"text": "t", "blocks": json.dumps([section()])}) == []
    bad = {"text": "t", "blocks": json.dumps([{"type": "header", "text": plain("x" * 151)}])}
    assert any("max 150" in v for v in validate_message(bad))
    assert any("not valid JSON" in v for v in validate_message({"text": "t", "blocks": "[{"}))


def test_attachment_blocks_are_checked() -> None:
    bad = {"text": "t", "attachments": [{"blocks": [{"type": "header", "text": plain("x" * 151)}]}]}
    assert any(v.startswith("attachments[0].") for v in validate_message(bad))
    good = {"text": "t", "attachments": [{"blocks": [section()]}]}
    assert validate_message(good) == []


# --- views ---------------------------------------------------------------------------------

VIEW_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("bad type", {"type": "message", "blocks": []}, "'home' or 'modal'"),
    ("no blocks", {"type": "home"}, "view.blocks must be an array"),
    ("101 blocks", home(*[{"type": "divider"}] * 101), "101 blocks (max 100)"),
    ("modal without title", {"type": "modal", "blocks": []}, "no title"),
    ("modal title too long", modal(title=plain("t" * 25)), "max 24"),
    ("modal title mrkdwn", modal(title=mrkdwn("t")), "must be plain_text"),
    ("close too long", modal(close=plain("c" * 25)), "max 24"),
    ("submit too long", modal(submit=plain("s" * 25)), "max 24"),
    (
        "input without submit",
        modal({"type": "input", "label": plain("L"), "element": {"type": "plain_text_input"}}),
        "no submit",
    ),
    (
        "input without label",
        modal({"type": "input", "element": {"type": "plain_text_input"}}, submit=plain("OK")),
        "needs a label",
    ),
    ("private_metadata too long", home() | {"private_metadata": "m" * 3001}, "max 3000"),
    ("callback_id too long", home() | {"callback_id": "c" * 256}, "max 255"),
    ("block rules apply", home({"type": "header", "text": plain("h" * 151)}), "max 150"),
    (
        "duplicate block ids",
        home({"type": "divider", "block_id": "d"}, {"type": "divider", "block_id": "d"}),
        "repeats",
    ),
]


@pytest.mark.parametrize(
    ("view", "expected"), [c[1:] for c in VIEW_CASES], ids=[c[0] for c in VIEW_CASES]
)
def test_view_rule_catches_bad_view(view: dict[str, Any], expected: str) -> None:
    violations = validate_view(view)
    assert len(violations) == 1, violations
    assert expected in violations[0]


def test_view_limits_are_inclusive() -> None:
    assert validate_view(home(*[{"type": "divider"}] * 100)) == []
    view = modal(title=plain("t" * 24), close=plain("c" * 24), submit=plain("s" * 24))
    assert validate_view(view) == []
    # A message is limited to 50 blocks, a view to 100.
    assert validate_message(message(*[{"type": "divider"}] * 51)) != []
