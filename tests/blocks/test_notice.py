"""The expiry notice and the replies in its thread (bot/blocks/notice.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from blockkit import assert_valid_message
from sample_sources import (
    HOSTILE_NAME,
    NOW,
    all_text,
    buttons,
    context_texts,
    many_sources,
    more_count,
    reconnect_values,
    section_texts,
    source,
)

from bot.blocks import Message
from bot.blocks.base import SECTION_TEXT_LIMIT
from bot.blocks.notice import (
    INTRO,
    NoticeEntry,
    connected_dm,
    expiry_notice,
    reconnected_reply,
    wrong_account_reply,
)
from bot.domain import Identity, Status


def header_text(message: Message) -> str:
    first = message.blocks[0]
    assert first["type"] == "header"
    return str(first["text"]["text"])


class TestExpiryNotice:
    def test_open_entries_get_the_lock_header_intro_and_a_button_each(self) -> None:
        acme = source(Status.EXPIRED, id=1, name="Acme")
        beta = source(Status.EXPIRING, id=2, name="Beta", expires_at=NOW + timedelta(days=2))

        message = expiry_notice([NoticeEntry(acme), NoticeEntry(beta)], NOW)

        assert_valid_message(message.to_dict())
        assert header_text(message) == ":lock: 2 connections need reconnecting"
        assert INTRO in section_texts(message.blocks)
        assert reconnect_values(message.blocks) == ["1", "2"]
        texts = section_texts(message.blocks)
        assert ":lock: *LinkedIn connection expired on 27 Nov*" in texts
        assert ":alarm_clock: *LinkedIn · Beta* — expires in 2 days" in texts
        assert "LinkedIn · Acme" in context_texts(message.blocks)
        assert message.text == "2 connections need reconnecting: LinkedIn · Acme, LinkedIn · Beta"

    def test_one_entry_is_singular(self) -> None:
        message = expiry_notice([NoticeEntry(source(Status.REVOKED))], NOW)

        assert header_text(message) == ":lock: 1 connection needs reconnecting"

    def test_all_restored_says_so_and_offers_no_buttons(self) -> None:
        entries = [
            NoticeEntry(source(Status.EXPIRED, name="Acme"), restored_by="U2", restored_at=NOW),
            NoticeEntry(source(Status.REVOKED, name="Beta"), restored_by="U3", restored_at=NOW),
        ]

        message = expiry_notice(entries, NOW)

        assert_valid_message(message.to_dict())
        assert header_text(message) == ":white_check_mark: All reconnected"
        assert buttons(message.blocks) == []
        assert INTRO not in section_texts(message.blocks)
        assert section_texts(message.blocks) == [
            ":white_check_mark: *LinkedIn · Acme* reconnected by <@U2>",
            ":white_check_mark: *LinkedIn · Beta* reconnected by <@U3>",
        ]
        assert "reconnected" in message.text

    def test_partly_restored_keeps_buttons_only_for_the_others(self) -> None:
        restored = source(Status.EXPIRED, id=10, name="Acme")
        still_open = source(Status.EXPIRED, id=11, name="Beta")
        entries = [
            NoticeEntry(restored, restored_by="U7", restored_at=NOW),
            NoticeEntry(still_open),
        ]

        message = expiry_notice(entries, NOW)

        assert_valid_message(message.to_dict())
        assert header_text(message) == ":lock: 1 connection needs reconnecting"
        assert ":white_check_mark: *LinkedIn · Acme* reconnected by <@U7>" in section_texts(
            message.blocks
        )
        assert reconnect_values(message.blocks) == ["11"]
        assert "Beta" in message.text
        assert "Acme" not in message.text

    def test_a_hundred_entries_fit_and_say_how_many_more(self) -> None:
        entries = [NoticeEntry(s) for s in many_sources(100) if s.status.needs_reconnect]
        entries += [NoticeEntry(source(Status.EXPIRED)) for _ in range(100 - len(entries))]

        message = expiry_notice(entries, NOW)

        assert_valid_message(message.to_dict())
        assert len(message.blocks) <= 50
        assert all(len(t) <= SECTION_TEXT_LIMIT for t in section_texts(message.blocks))
        shown = len(reconnect_values(message.blocks))
        last = context_texts(message.blocks[-1:])[0]
        assert shown + more_count(last) == 100
        assert "/sources expired" in last
        assert header_text(message) == ":lock: 100 connections need reconnecting"

    def test_names_are_escaped(self) -> None:
        entries = [
            NoticeEntry(source(Status.EXPIRED, name=HOSTILE_NAME)),
            NoticeEntry(source(Status.EXPIRED, name=HOSTILE_NAME), restored_by="U1"),
        ]

        text = all_text(expiry_notice(entries, NOW).blocks)

        assert "<!channel>" not in text
        assert "<@U999" not in text
        assert "&lt;!channel&gt;" in text


class TestReplies:
    def test_reconnected_reply_says_who_and_until_when(self) -> None:
        restored = source(Status.ACTIVE)  # valid until 27 Jan 2027

        message = reconnected_reply(restored, "U1")

        assert_valid_message(message.to_dict())
        assert message.text == "LinkedIn · Acme reconnected by <@U1>, valid until 27 Jan 2027"
        assert section_texts(message.blocks) == [
            ":white_check_mark: LinkedIn · Acme reconnected by <@U1>, valid until 27 Jan 2027"
        ]

    def test_reconnected_through_the_api_names_the_key_not_a_mention(self) -> None:
        message = reconnected_reply(source(Status.ACTIVE), "api-key:<platform>")

        assert message.text.startswith(
            "LinkedIn · Acme reconnected by the API (key “&lt;platform&gt;”)"
        )
        assert "<@" not in message.text

    def test_reconnected_reply_without_expiry(self) -> None:
        restored = source(Status.ACTIVE)
        restored = replace(restored, expires_at=None)

        assert reconnected_reply(restored, "U1").text == "LinkedIn · Acme reconnected by <@U1>"

    def test_wrong_account_names_both_accounts(self) -> None:
        expected = source(Status.EXPIRED, name="Acme Corp")

        message = wrong_account_reply(expected, Identity("other-id", "Jane Personal"), "U5")

        assert_valid_message(message.to_dict())
        (text,) = section_texts(message.blocks)
        assert text.startswith(":warning: <@U5> signed in to LinkedIn as *Jane Personal*")
        assert "but this is *LinkedIn · Acme Corp*" in text
        assert text.endswith("sign in as Acme Corp.")
        assert message.text == "Wrong account: Jane Personal instead of Acme Corp"

    def test_wrong_account_escapes_both_names(self) -> None:
        message = wrong_account_reply(
            source(Status.EXPIRED, name=HOSTILE_NAME), Identity("x", "<!everyone>"), "U5"
        )

        text = all_text(message.blocks)
        assert "<!everyone>" not in text
        assert "<!channel>" not in text
        assert "&lt;!everyone&gt;" in text

    @pytest.mark.parametrize(("created", "verb"), [(True, "connected"), (False, "reconnected")])
    def test_connected_dm(self, created: bool, verb: str) -> None:
        message = connected_dm(source(Status.ACTIVE), created)

        assert_valid_message(message.to_dict())
        assert message.text == f"LinkedIn · Acme is {verb}. It is valid until 27 Jan 2027."
        assert section_texts(message.blocks) == [
            f":white_check_mark: *LinkedIn · Acme* is {verb}. It is valid until 27 Jan 2027."
        ]


@pytest.mark.parametrize("builder", ["notice", "reconnected", "wrong_account"])
def test_fallback_text_escapes_names(builder: str) -> None:
    hostile = source(Status.EXPIRED, name=HOSTILE_NAME)
    message = {
        "notice": lambda: expiry_notice([NoticeEntry(hostile)], NOW),
        "reconnected": lambda: reconnected_reply(hostile, "U1"),
        "wrong_account": lambda: wrong_account_reply(hostile, Identity("x", "<!here>"), "U1"),
    }[builder]()

    assert "<!channel>" not in message.text
    assert "<!here>" not in message.text
