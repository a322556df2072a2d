"""A notice's "Reconnect all N" (bot/blocks/notice.py)."""

from __future__ import annotations

from dataclasses import replace

from blockkit import assert_valid_message
from sample_sources import NOW, buttons, source

from bot import ids
from bot.blocks.notice import NoticeEntry, expiry_notice, reconnect_all_blocks
from bot.domain import Status


def entry(network: str, kind: str, restored: bool = False) -> NoticeEntry:
    titles = {"facebook": "Facebook", "x": "X", "linkedin": "LinkedIn"}
    shown = replace(
        source(Status.EXPIRED), network=network, network_title=titles[network], kind=kind
    )
    return NoticeEntry(shown, restored_by="U1" if restored else None)


def labels(entries: list[NoticeEntry]) -> list[str]:
    return [b["text"]["text"] for block in reconnect_all_blocks(entries) for b in buttons([block])]


def test_offered_where_one_login_can_restore_several() -> None:
    assert labels([entry("facebook", "page"), entry("facebook", "page")]) == [
        "Reconnect all 2 Facebook"
    ]
    assert labels([entry("facebook", "account"), entry("facebook", "page")]) == [
        "Reconnect all 2 Facebook"
    ]
    assert labels([entry("x", "account"), entry("x", "account")]) == []  # two people
    assert labels([entry("facebook", "page")]) == []


def test_one_button_per_network_each_its_own_action() -> None:
    entries = [entry(n, "organization" if n == "linkedin" else "page") for n in ("facebook",) * 3]
    entries += [entry("linkedin", "organization"), entry("linkedin", "organization")]
    (block,) = reconnect_all_blocks(entries)
    assert [(b["action_id"], b["value"]) for b in block["elements"]] == [
        (f"{ids.RECONNECT_ALL}:facebook", "facebook"),
        (f"{ids.RECONNECT_ALL}:linkedin", "linkedin"),
    ]


def test_the_notice_counts_only_what_is_still_open() -> None:
    entries = [
        entry("facebook", "page"),
        entry("facebook", "page"),
        entry("facebook", "page", True),
    ]
    message = expiry_notice(entries, NOW)
    assert_valid_message(message.to_dict())
    all_buttons = [b["text"]["text"] for b in buttons(message.blocks)]
    assert "Reconnect all 2 Facebook" in all_buttons
    done = expiry_notice([entry("facebook", "page", True), entry("facebook", "page", True)], NOW)
    assert not [b for b in buttons(done.blocks) if b["action_id"].startswith(ids.RECONNECT_ALL)]
