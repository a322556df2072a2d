"""Offering the pages a login manages: the DM after a connect, the checkbox modal, the answer.

Slack allows ten options per checkbox group, so the pages come in groups of ten, each an
input block of its own (``ids.PAGES_FIELD_PREFIX`` + its number); every page starts ticked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot import ids
from bot.blocks import Block, Message
from bot.blocks.base import button, clip, context, escape, plain, section

PER_GROUP = 10  # Slack's most options in one checkboxes element
MAX_GROUPS = 90  # a modal holds 100 blocks
OPTION_TEXT_LIMIT = 75
TITLE = "Add sources"
CHOOSE = "Choose {nouns}"
OFFER_HOURS = 24


@dataclass(frozen=True)
class PageChoice:
    """What a person is offered: pages of ``network_title`` that ``login_name`` manages."""

    offer_id: int
    network_title: str
    noun: str  # "page", "organization", "channel"
    login_name: str
    names: Sequence[str]


def plural(noun: str, count: int) -> str:
    return noun if count == 1 else f"{noun}s"


def offer_dm(choice: PageChoice) -> Message:
    """The DM after a connect: the login manages pages that are not sources yet."""
    count = len(choice.names)
    nouns = plural(choice.noun, count)
    listed = ", ".join(f"*{escape(name)}*" for name in choice.names[:10])
    if count > 10:
        listed += f" and {count - 10} more"
    text = (
        f"You signed in to {choice.network_title} as *{escape(choice.login_name)}*, which also "
        f"manages {count} {nouns} that {'is' if count == 1 else 'are'} not a source yet: "
        f"{listed}. Choose which to add."
    )
    return Message(
        text=f"{count} {choice.network_title} {nouns} to add",
        blocks=[
            section(
                text,
                button(
                    CHOOSE.format(nouns=plural(choice.noun, 2)),
                    ids.CHOOSE_PAGES,
                    value=str(choice.offer_id),
                    style="primary",
                ),
            ),
            context(f"This choice stays open for {OFFER_HOURS} hours."),
        ],
    )


def pages_modal(choice: PageChoice) -> dict[str, Any]:
    """Every offered page as a ticked checkbox; submitting adds the ticked ones."""
    nouns = plural(choice.noun, 2)
    blocks: list[Block] = [
        section(
            f"*{escape(choice.login_name)}* manages these {choice.network_title} {nouns}. "
            "Untick any you don't want as sources."
        )
    ]
    groups = [
        list(enumerate(choice.names))[start : start + PER_GROUP]
        for start in range(0, len(choice.names), PER_GROUP)
    ]
    for number, group in enumerate(groups[:MAX_GROUPS]):
        options = [
            {"text": plain(clip(name, OPTION_TEXT_LIMIT), OPTION_TEXT_LIMIT), "value": str(index)}
            for index, name in group
        ]
        blocks.append(
            {
                "type": "input",
                "block_id": f"{ids.PAGES_FIELD_PREFIX}{number}",
                "optional": True,
                "label": plain(nouns.capitalize() if number == 0 else "More", 2000),
                "element": {
                    "type": "checkboxes",
                    "action_id": "pages",
                    "options": options,
                    "initial_options": options,
                },
            }
        )
    if len(groups) > MAX_GROUPS:
        hidden = len(choice.names) - MAX_GROUPS * PER_GROUP
        blocks.append(context(f"{hidden} more {nouns} don't fit here; connect again to add them."))
    return {
        "type": "modal",
        "callback_id": ids.PAGES_VIEW,
        "private_metadata": str(choice.offer_id),
        "title": plain(TITLE, 24),
        "submit": plain("Add", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }


def chosen_pages(state_values: Mapping[str, Any]) -> list[int]:
    """The ticked pages' positions in the offer, from a submission's ``view.state.values``."""
    chosen = []
    for block_id, elements in state_values.items():
        if not block_id.startswith(ids.PAGES_FIELD_PREFIX):
            continue
        for element in elements.values():
            for option in element.get("selected_options") or []:
                value = str(option.get("value", ""))
                if value.isdecimal():
                    chosen.append(int(value))
    return sorted(set(chosen))


def pages_added(network_title: str, noun: str, names: Sequence[str]) -> Message:
    if not names:
        text = f"Nothing was added: no {plural(noun, 2)} were ticked."
        return Message(text=text, blocks=[section(text)])
    count = len(names)
    listed = ", ".join(f"*{escape(name)}*" for name in names[:20])
    if count > 20:
        listed += f" and {count - 20} more"
    text = f"Added {count} {network_title} {plural(noun, count)}: {listed}. `/sources` lists them."
    return Message(
        text=f"Added {count} {network_title} {plural(noun, count)}", blocks=[section(text)]
    )
