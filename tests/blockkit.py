"""Validate Slack Block Kit payloads against Slack's documented limits.

The functions return a list of human-readable violations (empty means valid), so that a fake
Slack server can collect them without failing the request, and tests can assert on them.
Only the parts of Block Kit this project may use are checked in depth; anything Slack would
refuse outright (unknown block or element types, wrong text object types, limits) is reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100

BLOCK_TYPES = frozenset(
    {"section", "header", "context", "actions", "divider", "image", "input", "rich_text"}
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
SELECT_TYPES = frozenset(
    {
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
        "multi_static_select",
        "multi_external_select",
        "multi_users_select",
        "multi_conversations_select",
        "multi_channels_select",
    }
)
# Interactive elements checked only for their common fields (action_id, placeholder).
OTHER_INTERACTIVE_TYPES = frozenset(
    {
        "checkboxes",
        "radio_buttons",
        "datepicker",
        "timepicker",
        "datetimepicker",
        "plain_text_input",
        "email_text_input",
        "url_text_input",
        "number_input",
        "rich_text_input",
    }
)
ACTIONS_ELEMENT_TYPES = (
    frozenset(
        {
            "button",
            "overflow",
            "checkboxes",
            "radio_buttons",
            "datepicker",
            "timepicker",
            "datetimepicker",
            "rich_text_input",
        }
    )
    | SELECT_TYPES
)
SECTION_ACCESSORY_TYPES = (
    frozenset(
        {
            "button",
            "overflow",
            "image",
            "checkboxes",
            "radio_buttons",
            "datepicker",
            "timepicker",
        }
    )
    | SELECT_TYPES
)
INPUT_ELEMENT_TYPES = SELECT_TYPES | OTHER_INTERACTIVE_TYPES
BUTTON_STYLES = frozenset({"primary", "danger"})
RESPONSE_TYPES = frozenset({"in_channel", "ephemeral"})
TEXT_OBJECT_KEYS = {
    "plain_text": frozenset({"type", "text", "emoji"}),
    "mrkdwn": frozenset({"type", "text", "verbatim"}),
}


def validate_message(payload: dict[str, Any]) -> list[str]:
    """Check a message payload (chat.postMessage / chat.update / chat.postEphemeral / a
    response_url post). Returns the violations found."""
    out: list[str] = []
    if not isinstance(payload, dict):
        return [f"message payload must be an object, got {type(payload).__name__}"]
    blocks = _decode_json_field(payload, "blocks", out)
    attachments = _decode_json_field(payload, "attachments", out)
    text = payload.get("text")
    if text is not None and not isinstance(text, str):
        out.append(f"text must be a string, got {type(text).__name__}")
        text = None
    has_text = isinstance(text, str) and text.strip() != ""
    if blocks is not None:
        if not isinstance(blocks, list):
            out.append(f"blocks must be an array, got {type(blocks).__name__}")
        else:
            if not has_text:
                out.append(
                    "message has blocks but no non-empty plain-text fallback `text` "
                    "(needed for notifications and accessibility)"
                )
            out.extend(_validate_blocks(blocks, MAX_MESSAGE_BLOCKS, "message"))
    elif not has_text and not attachments and not payload.get("delete_original"):
        out.append("message has no text, blocks or attachments")
    if isinstance(attachments, list):
        for i, att in enumerate(attachments):
            if isinstance(att, dict) and isinstance(att.get("blocks"), list):
                out.extend(
                    f"attachments[{i}].{v}"
                    for v in _validate_blocks(att["blocks"], MAX_MESSAGE_BLOCKS, "attachment")
                )
    elif attachments is not None:
        out.append(f"attachments must be an array, got {type(attachments).__name__}")
    response_type = payload.get("response_type")
    if response_type is not None and response_type not in RESPONSE_TYPES:
        out.append(f"response_type {response_type!r} is not one of {sorted(RESPONSE_TYPES)}")
    return out


def validate_view(view: dict[str, Any]) -> list[str]:
    """Check a view (views.publish / views.open / views.update `view`)."""
    out: list[str] = []
    if isinstance(view, str):
        try:
            view = json.loads(view)
        except ValueError:
            return ["view is a string that is not valid JSON"]
    if not isinstance(view, dict):
        return [f"view must be an object, got {type(view).__name__}"]
    view_type = view.get("type")
    if view_type not in ("home", "modal"):
        out.append(f"view type must be 'home' or 'modal', got {view_type!r}")
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        out.append("view.blocks must be an array")
        blocks = []
    out.extend(_validate_blocks(blocks, MAX_VIEW_BLOCKS, "view"))
    if view_type == "modal":
        if "title" not in view:
            out.append("modal has no title")
        else:
            out.extend(_text(view["title"], "title", max_len=24, plain_only=True))
        for key in ("close", "submit"):
            if view.get(key) is not None:
                out.extend(_text(view[key], key, max_len=24, plain_only=True))
        if view.get("submit") is None and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        ):
            out.append("modal has input blocks but no submit button")
    for key, limit in (("private_metadata", 3000), ("callback_id", 255), ("external_id", 255)):
        value = view.get(key)
        if value is not None:
            out.extend(_str_field(value, key, limit))
    return out


def assert_valid_message(payload: dict[str, Any]) -> None:
    violations = validate_message(payload)
    if violations:
        raise AssertionError(_format("message", violations))


def assert_valid_view(view: dict[str, Any]) -> None:
    violations = validate_view(view)
    if violations:
        raise AssertionError(_format("view", violations))


# --- internals ---------------------------------------------------------------------------


def _format(what: str, violations: list[str]) -> str:
    lines = "\n".join(f"  - {v}" for v in violations)
    return f"invalid Block Kit {what} ({len(violations)} violation(s)):\n{lines}"


def _decode_json_field(payload: dict[str, Any], key: str, out: list[str]) -> Any:
    value = payload.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            out.append(f"{key} is a string that is not valid JSON")
            return None
    return value


def _str_field(value: Any, where: str, max_len: int, *, required: bool = False) -> list[str]:
    if value is None:
        return [f"{where} is required"] if required else []
    if not isinstance(value, str):
        return [f"{where} must be a string, got {type(value).__name__}"]
    if required and value == "":
        return [f"{where} must not be empty"]
    if len(value) > max_len:
        return [f"{where} is {len(value)} characters (max {max_len})"]
    return []


def _text(
    obj: Any,
    where: str,
    *,
    max_len: int,
    plain_only: bool = False,
) -> list[str]:
    """Check a text composition object."""
    if not isinstance(obj, dict):
        return [f"{where} must be a text object, got {type(obj).__name__}"]
    ttype = obj.get("type")
    if ttype not in TEXT_TYPES:
        return [f"{where}.type must be plain_text or mrkdwn, got {ttype!r}"]
    out: list[str] = []
    if plain_only and ttype != "plain_text":
        out.append(f"{where} must be plain_text, got {ttype}")
    text = obj.get("text")
    if not isinstance(text, str) or text == "":
        out.append(f"{where}.text must be a non-empty string")
    elif len(text) > max_len:
        out.append(f"{where}.text is {len(text)} characters (max {max_len})")
    extra = set(obj) - TEXT_OBJECT_KEYS[ttype]
    if extra:
        out.append(f"{where} has properties not allowed on {ttype}: {sorted(extra)}")
    return out


def _block_label(index: int, block: dict[str, Any]) -> str:
    block_id = block.get("block_id")
    if isinstance(block_id, str):
        shown = block_id if len(block_id) <= 40 else block_id[:37] + "..."
        return f"blocks[{index}] ({block.get('type')} {shown!r})"
    return f"blocks[{index}] ({block.get('type')})"


def _validate_blocks(blocks: list[Any], max_blocks: int, surface: str) -> list[str]:
    out: list[str] = []
    if len(blocks) > max_blocks:
        out.append(f"{surface} has {len(blocks)} blocks (max {max_blocks})")
    seen_block_ids: dict[str, int] = {}
    for i, block in enumerate(blocks):
        if not isinstance(block, dict):
            out.append(f"blocks[{i}] must be an object, got {type(block).__name__}")
            continue
        where = _block_label(i, block)
        block_id = block.get("block_id")
        if block_id is not None:
            problems = _str_field(block_id, f"{where}.block_id", 255)
            out.extend(problems)
            if not problems:
                if block_id in seen_block_ids:
                    out.append(
                        f"{where}: block_id {block_id!r} repeats blocks[{seen_block_ids[block_id]}]"
                    )
                else:
                    seen_block_ids[block_id] = i
        btype = block.get("type")
        if btype not in BLOCK_TYPES:
            out.append(f"{where}: unknown block type {btype!r}")
            continue
        out.extend(_BLOCK_CHECKS[btype](block, where))
    return out


def _check_section(block: dict[str, Any], where: str) -> list[str]:
    out: list[str] = []
    text = block.get("text")
    fields = block.get("fields")
    if text is None and not fields:
        out.append(f"{where}: a section needs text or fields")
    if text is not None:
        out.extend(_text(text, f"{where}.text", max_len=3000))
    if fields is not None:
        if not isinstance(fields, list):
            out.append(f"{where}.fields must be an array")
        else:
            if len(fields) > 10:
                out.append(f"{where} has {len(fields)} fields (max 10)")
            for j, field in enumerate(fields):
                out.extend(_text(field, f"{where}.fields[{j}]", max_len=2000))
    accessory = block.get("accessory")
    if accessory is not None:
        out.extend(_element(accessory, f"{where}.accessory", SECTION_ACCESSORY_TYPES))
    return out


def _check_header(block: dict[str, Any], where: str) -> list[str]:
    if "text" not in block:
        return [f"{where}: a header needs text"]
    return _text(block["text"], f"{where}.text", max_len=150, plain_only=True)


def _check_context(block: dict[str, Any], where: str) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        return [f"{where}.elements must be a non-empty array"]
    out: list[str] = []
    if len(elements) > 10:
        out.append(f"{where} has {len(elements)} elements (max 10)")
    for j, element in enumerate(elements):
        ewhere = f"{where}.elements[{j}]"
        if isinstance(element, dict) and element.get("type") == "image":
            out.extend(_image_element(element, ewhere))
        else:
            out.extend(_text(element, ewhere, max_len=3000))
    return out


def _check_actions(block: dict[str, Any], where: str) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        return [f"{where}.elements must be a non-empty array"]
    out: list[str] = []
    if len(elements) > 25:
        out.append(f"{where} has {len(elements)} elements (max 25)")
    for j, element in enumerate(elements):
        out.extend(_element(element, f"{where}.elements[{j}]", ACTIONS_ELEMENT_TYPES))
    out.extend(_unique_action_ids(elements, where))
    return out


def _check_divider(block: dict[str, Any], where: str) -> list[str]:
    return []


def _check_image(block: dict[str, Any], where: str) -> list[str]:
    out = _image_element(block, where)
    if block.get("title") is not None:
        out.extend(_text(block["title"], f"{where}.title", max_len=2000, plain_only=True))
    return out


def _check_input(block: dict[str, Any], where: str) -> list[str]:
    out: list[str] = []
    if "label" not in block:
        out.append(f"{where}: an input needs a label")
    else:
        out.extend(_text(block["label"], f"{where}.label", max_len=2000, plain_only=True))
    if "element" not in block:
        out.append(f"{where}: an input needs an element")
    else:
        out.extend(_element(block["element"], f"{where}.element", INPUT_ELEMENT_TYPES))
    if block.get("hint") is not None:
        out.extend(_text(block["hint"], f"{where}.hint", max_len=2000, plain_only=True))
    return out


def _check_rich_text(block: dict[str, Any], where: str) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not elements:
        return [f"{where}.elements must be a non-empty array"]
    allowed = {"rich_text_section", "rich_text_list", "rich_text_preformatted", "rich_text_quote"}
    out: list[str] = []
    for j, element in enumerate(elements):
        etype = element.get("type") if isinstance(element, dict) else None
        if etype not in allowed:
            out.append(f"{where}.elements[{j}]: unknown rich_text element type {etype!r}")
    return out


_BLOCK_CHECKS = {
    "section": _check_section,
    "header": _check_header,
    "context": _check_context,
    "actions": _check_actions,
    "divider": _check_divider,
    "image": _check_image,
    "input": _check_input,
    "rich_text": _check_rich_text,
}


def _unique_action_ids(elements: Iterable[Any], where: str) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for element in elements:
        if not isinstance(element, dict):
            continue
        action_id = element.get("action_id")
        if not isinstance(action_id, str):
            continue
        if action_id in seen:
            out.append(f"{where}: action_id {action_id!r} is used more than once in the block")
        seen.add(action_id)
    return out


def _image_element(element: dict[str, Any], where: str) -> list[str]:
    out: list[str] = []
    if element.get("image_url") is None and element.get("slack_file") is None:
        out.append(f"{where}: an image needs image_url or slack_file")
    out.extend(_str_field(element.get("image_url"), f"{where}.image_url", 3000))
    out.extend(_str_field(element.get("alt_text"), f"{where}.alt_text", 2000, required=True))
    return out


def _element(element: Any, where: str, allowed: frozenset[str]) -> list[str]:
    if not isinstance(element, dict):
        return [f"{where} must be an object, got {type(element).__name__}"]
    etype = element.get("type")
    if etype not in allowed:
        return [f"{where}: element type {etype!r} is not allowed here"]
    if etype == "image":
        return _image_element(element, where)
    out = _str_field(element.get("action_id"), f"{where}.action_id", 255)
    if element.get("confirm") is not None:
        out.extend(_confirm(element["confirm"], f"{where}.confirm"))
    if etype == "button":
        out.extend(_button(element, where))
    elif etype == "overflow":
        out.extend(_options(element.get("options"), f"{where}.options", 1, 5, plain_only=True))
    elif etype in SELECT_TYPES:
        if element.get("placeholder") is not None:
            out.extend(
                _text(element["placeholder"], f"{where}.placeholder", max_len=150, plain_only=True)
            )
        if etype.endswith("static_select"):
            if "options" in element:
                out.extend(
                    _options(element["options"], f"{where}.options", 1, 100, plain_only=True)
                )
            elif "option_groups" not in element:
                out.append(f"{where}: a static select needs options or option_groups")
    elif etype in ("checkboxes", "radio_buttons"):
        out.extend(_options(element.get("options"), f"{where}.options", 1, 10, plain_only=False))
    elif element.get("placeholder") is not None:
        out.extend(
            _text(element["placeholder"], f"{where}.placeholder", max_len=150, plain_only=True)
        )
    return out


def _button(element: dict[str, Any], where: str) -> list[str]:
    out: list[str] = []
    if "text" not in element:
        out.append(f"{where}: a button needs text")
    else:
        out.extend(_text(element["text"], f"{where}.text", max_len=75, plain_only=True))
    out.extend(_str_field(element.get("value"), f"{where}.value", 2000))
    out.extend(_str_field(element.get("url"), f"{where}.url", 3000))
    out.extend(_str_field(element.get("accessibility_label"), f"{where}.accessibility_label", 75))
    style = element.get("style")
    if style is not None and style not in BUTTON_STYLES:
        out.append(f"{where}.style must be 'primary' or 'danger' (or absent), got {style!r}")
    return out


def _options(
    options: Any, where: str, min_items: int, max_items: int, *, plain_only: bool
) -> list[str]:
    if not isinstance(options, list):
        return [f"{where} must be an array"]
    out: list[str] = []
    if not min_items <= len(options) <= max_items:
        out.append(f"{where} has {len(options)} options (must be {min_items}..{max_items})")
    for k, option in enumerate(options):
        owhere = f"{where}[{k}]"
        if not isinstance(option, dict):
            out.append(f"{owhere} must be an object")
            continue
        if "text" not in option:
            out.append(f"{owhere}: an option needs text")
        else:
            out.extend(_text(option["text"], f"{owhere}.text", max_len=75, plain_only=plain_only))
        out.extend(_str_field(option.get("value"), f"{owhere}.value", 150, required=True))
        if option.get("description") is not None:
            out.extend(
                _text(option["description"], f"{owhere}.description", max_len=75, plain_only=True)
            )
        out.extend(_str_field(option.get("url"), f"{owhere}.url", 3000))
    return out


def _confirm(confirm: Any, where: str) -> list[str]:
    if not isinstance(confirm, dict):
        return [f"{where} must be an object"]
    out: list[str] = []
    for key, limit, required in (
        ("title", 100, True),
        ("text", 300, True),
        ("confirm", 30, True),
        ("deny", 30, True),
    ):
        if confirm.get(key) is None:
            if required:
                out.append(f"{where}: a confirm dialog needs {key}")
            continue
        out.extend(_text(confirm[key], f"{where}.{key}", max_len=limit, plain_only=key != "text"))
    style = confirm.get("style")
    if style is not None and style not in BUTTON_STYLES:
        out.append(f"{where}.style must be 'primary' or 'danger', got {style!r}")
    return out
