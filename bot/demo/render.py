"""Block Kit to HTML for the sandbox page: pure functions, escaped output, no I/O.

Interactive elements carry ``data-*`` attributes (action id, block id, element type,
value, url) that the page's script turns into Slack interaction payloads. A block or
element type this module does not know is shown as a visible "unsupported" box, so a new
builder that sends one cannot go unnoticed (the tests look for that box).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

UNSUPPORTED = "bk-unsupported"

EMOJI = {
    "lock": "🔒",
    "unlock": "🔓",
    "alarm_clock": "⏰",
    "white_check_mark": "✅",
    "heavy_check_mark": "✔️",
    "warning": "⚠️",
    "x": "❌",
    "no_entry": "⛔",
    "no_entry_sign": "🚫",
    "hourglass": "⌛",
    "hourglass_flowing_sand": "⏳",
    "bell": "🔔",
    "no_bell": "🔕",
    "wave": "👋",
    "tada": "🎉",
    "link": "🔗",
    "key": "🔑",
    "calendar": "📆",
    "date": "📅",
    "spiral_calendar_pad": "🗓️",
    "mag": "🔍",
    "red_circle": "🔴",
    "large_green_circle": "🟢",
    "large_yellow_circle": "🟡",
    "zzz": "💤",
    "rotating_light": "🚨",
    "eyes": "👀",
    "raising_hand": "🙋",
    "arrows_counterclockwise": "🔄",
    "repeat": "🔁",
    "gear": "⚙️",
    "bar_chart": "📊",
    "inbox_tray": "📥",
    "outbox_tray": "📤",
    "sparkles": "✨",
    "email": "📧",
    "robot_face": "🤖",
    "point_right": "👉",
    "thumbsup": "👍",
    "+1": "👍",
    "bust_in_silhouette": "👤",
    "busts_in_silhouette": "👥",
    "clipboard": "📋",
    "memo": "📝",
    "pushpin": "📌",
    "hammer_and_wrench": "🛠️",
    "shield": "🛡️",
    "stopwatch": "⏱️",
    "clock9": "🕘",
    "new": "🆕",
    "globe_with_meridians": "🌐",
    "question": "❓",
    "exclamation": "❗",
}

_TOKEN = re.compile(r"<([^<>\n]+)>")
_CODE_BLOCK = re.compile(r"```(.+?)```", re.DOTALL)
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_EMOJI = re.compile(r":([a-z0-9_+\-]+):")
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")


@dataclass(frozen=True)
class Names:
    """Who and what the sandbox workspace knows, for mentions and selects."""

    users: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)

    def user(self, user_id: str) -> str:
        return self.users.get(user_id, user_id)

    def channel(self, channel_id: str) -> str:
        return self.channels.get(channel_id, channel_id)


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def emoji(text: str) -> str:
    """``:lock:`` to 🔒 for the emoji the sandbox knows; others stay as written."""
    return _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)


def plain(obj: Mapping[str, Any] | None) -> str:
    """A plain_text object as HTML (Slack turns emoji codes into emoji when ``emoji`` is on)."""
    if not obj:
        return ""
    text = esc(obj.get("text", ""))
    return emoji(text) if obj.get("emoji", True) else text


def text_object(obj: Mapping[str, Any] | None, names: Names) -> str:
    if not obj:
        return ""
    if obj.get("type") == "mrkdwn":
        return mrkdwn(str(obj.get("text", "")), names)
    return plain(obj)


def mrkdwn(text: str, names: Names) -> str:
    """Slack's mrkdwn as HTML: links, mentions, code, bold, italic, strike, emoji, lines."""
    pieces: list[str] = []

    def keep(rendered: str) -> str:
        pieces.append(rendered)
        return f"\x00{len(pieces) - 1}\x00"

    text = _TOKEN.sub(lambda m: keep(_token(m.group(1), names)), text)
    text = _CODE_BLOCK.sub(
        lambda m: keep(f'<pre class="bk-pre">{esc(_unescape(m.group(1)).strip(chr(10)))}</pre>'),
        text,
    )
    text = _CODE.sub(lambda m: keep(f"<code>{esc(_unescape(m.group(1)))}</code>"), text)
    out = esc(_unescape(text))
    out = _BOLD.sub(r"<b>\1</b>", out)
    out = _ITALIC.sub(r"<i>\1</i>", out)
    out = _STRIKE.sub(r"<s>\1</s>", out)
    out = emoji(out).replace("\n", "<br>")
    return _PLACEHOLDER.sub(lambda m: pieces[int(m.group(1))], out)


def _unescape(text: str) -> str:
    """Slack escapes only these three in message text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _token(inner: str, names: Names) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return f'<span class="bk-mention">@{esc(label or names.user(target[1:]))}</span>'
    if target.startswith("#"):
        return f'<span class="bk-mention">#{esc(label or names.channel(target[1:]))}</span>'
    if target.startswith("!"):
        command = target[1:].split("^", 1)[0]
        if command in {"here", "channel", "everyone"}:
            return f'<span class="bk-mention">@{esc(command)}</span>'
        return f'<span class="bk-mention">{esc(_unescape(label or command))}</span>'
    url = _unescape(target)
    shown = esc(_unescape(label)) if label else esc(url)
    if url.startswith(("http://", "https://", "mailto:")):
        return f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{shown}</a>'
    return shown


# --- blocks ------------------------------------------------------------------------------


def render_blocks(blocks: Sequence[Mapping[str, Any]], names: Names) -> str:
    """Blocks without a block_id get ``b{index}``, as the sandbox's payloads name them."""
    return "".join(
        render_block(block if block.get("block_id") else {**block, "block_id": f"b{index}"}, names)
        for index, block in enumerate(blocks)
    )


def render_block(block: Mapping[str, Any], names: Names) -> str:
    kind = str(block.get("type", ""))
    renderer = _BLOCKS.get(kind)
    if renderer is None:
        return _unsupported("block", kind)
    return renderer(block, names)


def _header(block: Mapping[str, Any], names: Names) -> str:
    return f'<div class="bk-header">{plain(block.get("text"))}</div>'


def _section(block: Mapping[str, Any], names: Names) -> str:
    block_id = str(block.get("block_id", ""))
    main = ""
    if block.get("text"):
        main += f'<div class="bk-text">{text_object(block["text"], names)}</div>'
    if block.get("fields"):
        cells = "".join(
            f'<div class="bk-field">{text_object(f, names)}</div>' for f in block["fields"]
        )
        main += f'<div class="bk-fields">{cells}</div>'
    accessory = ""
    if block.get("accessory"):
        accessory = (
            f'<div class="bk-accessory">{render_element(block["accessory"], block_id, names)}</div>'
        )
    return f'<div class="bk-section"><div class="bk-section-main">{main}</div>{accessory}</div>'


def _context(block: Mapping[str, Any], names: Names) -> str:
    parts = []
    for element in block.get("elements", []):
        kind = element.get("type")
        if kind in {"mrkdwn", "plain_text"}:
            parts.append(f"<span>{text_object(element, names)}</span>")
        elif kind == "image":
            parts.append(_image_alt(element))
        else:
            parts.append(_unsupported("context element", str(kind)))
    return f'<div class="bk-context">{"".join(parts)}</div>'


def _divider(block: Mapping[str, Any], names: Names) -> str:
    return '<hr class="bk-divider">'


def _actions(block: Mapping[str, Any], names: Names) -> str:
    block_id = str(block.get("block_id", ""))
    elements = "".join(render_element(e, block_id, names) for e in block.get("elements", []))
    return f'<div class="bk-actions">{elements}</div>'


def _image(block: Mapping[str, Any], names: Names) -> str:
    title = block.get("title")
    caption = f"<figcaption>{plain(title)}</figcaption>" if title else ""
    alt = esc(block.get("alt_text", ""))
    return (
        f'<figure class="bk-image"><div class="bk-image-box" title="{alt}">🖼 {alt}</div>'
        f"{caption}</figure>"
    )


def _input(block: Mapping[str, Any], names: Names) -> str:
    block_id = str(block.get("block_id", ""))
    optional = ' <span class="bk-optional">(optional)</span>' if block.get("optional") else ""
    hint = f'<div class="bk-hint">{plain(block.get("hint"))}</div>' if block.get("hint") else ""
    element = render_element(block.get("element", {}), block_id, names, in_input=True)
    return (
        f'<div class="bk-input" data-block-id="{esc(block_id)}">'
        f'<label class="bk-label">{plain(block.get("label"))}{optional}</label>'
        f'{element}{hint}<div class="bk-error" data-error-for="{esc(block_id)}"></div></div>'
    )


def _rich_text(block: Mapping[str, Any], names: Names) -> str:
    out = []
    for element in block.get("elements", []):
        inner = "".join(_rich_leaf(leaf, names) for leaf in element.get("elements", []))
        if element.get("type") == "rich_text_preformatted":
            out.append(f'<pre class="bk-pre">{inner}</pre>')
        elif element.get("type") == "rich_text_quote":
            out.append(f"<blockquote>{inner}</blockquote>")
        else:
            out.append(f"<div>{inner}</div>")
    return f'<div class="bk-rich">{"".join(out)}</div>'


def _rich_leaf(leaf: Mapping[str, Any], names: Names) -> str:
    kind = leaf.get("type")
    if kind == "text":
        text = esc(leaf.get("text", "")).replace("\n", "<br>")
        style = leaf.get("style", {})
        for flag, tag in (("bold", "b"), ("italic", "i"), ("strike", "s"), ("code", "code")):
            if style.get(flag):
                text = f"<{tag}>{text}</{tag}>"
        return text
    if kind == "link":
        url = str(leaf.get("url", ""))
        return _token(f"{url}|{leaf.get('text') or url}", names)
    if kind == "user":
        return _token(f"@{leaf.get('user_id', '')}", names)
    if kind == "channel":
        return _token(f"#{leaf.get('channel_id', '')}", names)
    if kind == "emoji":
        return emoji(f":{leaf.get('name', '')}:")
    if kind in {"rich_text_section", "rich_text_list"}:
        return "".join(_rich_leaf(child, names) for child in leaf.get("elements", []))
    return _unsupported("rich text element", str(kind))


_BLOCKS: dict[str, Callable[[Mapping[str, Any], Names], str]] = {
    "header": _header,
    "section": _section,
    "context": _context,
    "divider": _divider,
    "actions": _actions,
    "image": _image,
    "input": _input,
    "rich_text": _rich_text,
}


# --- elements ----------------------------------------------------------------------------


def render_element(
    element: Mapping[str, Any], block_id: str, names: Names, *, in_input: bool = False
) -> str:
    kind = str(element.get("type", ""))
    if kind == "image":
        return _image_alt(element)
    if kind == "button":
        return _button(element, block_id)
    options = _options_for(element, names)
    if options is not None:
        return _select(element, block_id, options, in_input)
    if kind in _INPUT_TYPES:
        return _text_input(element, block_id, in_input)
    if kind in {"checkboxes", "radio_buttons"}:
        return _choices(element, block_id, in_input)
    return _unsupported("element", kind)


def _attrs(element: Mapping[str, Any], block_id: str, in_input: bool, **extra: str) -> str:
    values = {
        "class": extra.pop("cls", ""),
        "data-action-id": str(element.get("action_id", "")),
        "data-block-id": block_id,
        "data-type": str(element.get("type", "")),
        **extra,
    }
    if in_input:
        values["data-input"] = "1"
    return " ".join(f'{name}="{esc(value)}"' for name, value in values.items() if value != "")


def _button(element: Mapping[str, Any], block_id: str) -> str:
    style = element.get("style")
    classes = "bk-button" + (f" bk-{style}" if style in {"primary", "danger"} else "")
    extra = {"cls": classes, "data-value": str(element.get("value", ""))}
    if element.get("url"):
        extra["data-url"] = str(element["url"])
    text = plain(element.get("text"))
    icon = ' <span class="bk-external">↗</span>' if element.get("url") else ""
    return f"<button {_attrs(element, block_id, False, **extra)}>{text}{icon}</button>"


Option = tuple[str, str, str | None]  # value, label HTML, group label


def _options_for(element: Mapping[str, Any], names: Names) -> list[Option] | None:
    """The choices of a select-like element, or None when the element is not one."""
    kind = str(element.get("type", ""))
    base = kind.removeprefix("multi_")
    if base in {"conversations_select", "channels_select"}:
        return [(cid, f"#{esc(name)}", None) for cid, name in names.channels.items()]
    if base == "users_select":
        return [(uid, esc(name), None) for uid, name in names.users.items()]
    if base in {"static_select", "external_select"} or kind == "overflow":
        if element.get("option_groups"):
            return [
                (str(option.get("value", "")), plain(option.get("text")), plain(group.get("label")))
                for group in element["option_groups"]
                for option in group.get("options", [])
            ]
        return [
            (str(option.get("value", "")), plain(option.get("text")), None)
            for option in element.get("options", [])
        ]
    return None


def _initial(element: Mapping[str, Any]) -> set[str]:
    chosen: set[str] = set()
    for key in ("initial_conversation", "initial_channel", "initial_user"):
        if element.get(key):
            chosen.add(str(element[key]))
    for key in ("initial_conversations", "initial_channels", "initial_users"):
        chosen.update(str(v) for v in element.get(key, []))
    if element.get("initial_option"):
        chosen.add(str(element["initial_option"].get("value", "")))
    chosen.update(str(o.get("value", "")) for o in element.get("initial_options", []))
    return chosen


def _select(
    element: Mapping[str, Any], block_id: str, options: list[Option], in_input: bool
) -> str:
    kind = str(element.get("type", ""))
    multiple = kind.startswith("multi_")
    chosen = _initial(element)
    overflow = kind == "overflow"
    placeholder = "⋯" if overflow else plain(element.get("placeholder")) or "Select an item"
    rows = (
        []
        if multiple
        else [f'<option value="" disabled{"" if chosen else " selected"}>{placeholder}</option>']
    )
    group: str | None = None
    for value, label, group_label in options:
        if group_label != group:
            if group is not None:
                rows.append("</optgroup>")
            if group_label is not None:
                rows.append(f'<optgroup label="{group_label}">')
            group = group_label
        selected = " selected" if value in chosen else ""
        rows.append(f'<option value="{esc(value)}"{selected}>{label}</option>')
    if group is not None:
        rows.append("</optgroup>")
    cls = "bk-overflow" if overflow else "bk-select"
    attrs = _attrs(element, block_id, in_input, cls=cls)
    return f"<select {attrs}{' multiple' if multiple else ''}>{''.join(rows)}</select>"


_INPUT_TYPES = {
    "plain_text_input": "text",
    "email_text_input": "email",
    "url_text_input": "url",
    "number_input": "number",
    "datepicker": "date",
    "timepicker": "time",
    "datetimepicker": "datetime-local",
    "rich_text_input": "text",
}


def _text_input(element: Mapping[str, Any], block_id: str, in_input: bool) -> str:
    kind = str(element.get("type", ""))
    placeholder = esc(element.get("placeholder", {}).get("text", ""))
    initial = str(
        element.get("initial_value")
        or element.get("initial_date")
        or element.get("initial_time")
        or ""
    )
    attrs = _attrs(element, block_id, in_input, cls="bk-textinput")
    if element.get("multiline"):
        return f'<textarea {attrs} placeholder="{placeholder}">{esc(initial)}</textarea>'
    return (
        f'<input {attrs} type="{_INPUT_TYPES[kind]}" placeholder="{placeholder}" '
        f'value="{esc(initial)}">'
    )


def _choices(element: Mapping[str, Any], block_id: str, in_input: bool) -> str:
    kind = str(element.get("type", ""))
    input_type = "checkbox" if kind == "checkboxes" else "radio"
    chosen = _initial(element)
    name = f"{block_id}.{element.get('action_id', '')}"
    rows = []
    for option in element.get("options", []):
        value = str(option.get("value", ""))
        checked = " checked" if value in chosen else ""
        rows.append(
            f'<label class="bk-choice"><input type="{input_type}" name="{esc(name)}" '
            f'value="{esc(value)}"{checked}> {plain(option.get("text"))}</label>'
        )
    attrs = _attrs(element, block_id, in_input, cls="bk-choices")
    return f"<div {attrs}>{''.join(rows)}</div>"


def _image_alt(element: Mapping[str, Any]) -> str:
    alt = esc(element.get("alt_text", ""))
    return f'<span class="bk-img-alt" title="{alt}">🖼 {alt}</span>'


def _unsupported(what: str, kind: str) -> str:
    return f'<div class="{UNSUPPORTED}">Unsupported {esc(what)}: {esc(kind or "?")}</div>'
