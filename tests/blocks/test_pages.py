"""Offering the pages a login manages (bot/blocks/pages.py)."""

from __future__ import annotations

from blockkit import assert_valid_message, assert_valid_view
from sample_sources import HOSTILE_NAME, all_text, buttons

from bot import ids
from bot.blocks.pages import PageChoice, chosen_pages, offer_dm, pages_added, pages_modal


def choice(count: int, name: str = "Page") -> PageChoice:
    return PageChoice(7, "Facebook", "page", HOSTILE_NAME, [f"{name} {n}" for n in range(count)])


def test_the_dm_names_the_pages_and_has_one_button() -> None:
    message = offer_dm(choice(3))
    assert_valid_message(message.to_dict())
    assert message.text == "3 Facebook pages to add"
    (button,) = buttons(message.blocks)
    assert (button["action_id"], button["value"], button["text"]["text"]) == (
        ids.CHOOSE_PAGES,
        "7",
        "Choose pages",
    )
    assert "*Page 0*, *Page 1*, *Page 2*" in all_text(message.blocks)
    assert "<!channel>" not in all_text(message.blocks)
    many = offer_dm(choice(40, "N" * 250))
    assert_valid_message(many.to_dict())
    assert "and 30 more" in all_text(many.blocks)
    one = offer_dm(PageChoice(1, "LinkedIn", "organization", "Ada", ["Acme"]))
    assert "1 organization that is not a source yet" in all_text(one.blocks)


def test_pages_come_ten_to_a_group_all_ticked() -> None:
    view = pages_modal(choice(23))
    assert_valid_view(view)
    groups = [block for block in view["blocks"] if block["type"] == "input"]
    assert [len(g["element"]["options"]) for g in groups] == [10, 10, 3]
    assert [g["block_id"] for g in groups] == ["pages:0", "pages:1", "pages:2"]
    assert all(g["element"]["initial_options"] == g["element"]["options"] for g in groups)
    assert view["private_metadata"] == "7" and view["callback_id"] == ids.PAGES_VIEW


def test_very_many_pages_with_long_names_still_fit() -> None:
    view = pages_modal(choice(2000, "L" * 300))
    assert_valid_view(view)
    assert len(view["blocks"]) <= 100
    assert "more pages don't fit here" in all_text(view["blocks"])


def test_what_was_ticked_is_read_back() -> None:
    values = {
        "pages:0": {"pages": {"type": "checkboxes", "selected_options": [{"value": "3"}]}},
        "pages:1": {
            "pages": {"type": "checkboxes", "selected_options": [{"value": "12"}, {"value": "x"}]}
        },
        "other": {"pages": {"selected_options": [{"value": "5"}]}},
        "pages:2": {"pages": {"type": "checkboxes", "selected_options": None}},
    }
    assert chosen_pages(values) == [3, 12]


def test_the_answer_lists_what_was_added() -> None:
    added = pages_added("Facebook", "page", [HOSTILE_NAME, "Two"])
    assert_valid_message(added.to_dict())
    assert added.text == "Added 2 Facebook pages"
    assert "<!channel>" not in all_text(added.blocks)
    assert "Nothing was added" in pages_added("YouTube", "channel", []).text
