"""How one source reads (bot/blocks/sources.py), and lists that must fit Slack's limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sample_sources import (
    HOSTILE_NAME,
    NOW,
    REVOKED_REASON,
    all_text,
    buttons,
    context_texts,
    many_sources,
    more_count,
    reconnect_values,
    section_texts,
    source,
)

from bot import ids
from bot.blocks.base import SECTION_TEXT_LIMIT
from bot.blocks.sources import (
    action_blocks,
    sort_for_display,
    source_line,
    source_list_blocks,
)
from bot.domain import LastError, Status

HINT = "Narrow it down."


class TestActionBlocks:
    def test_expired_shows_the_error_in_place_of_the_name(self) -> None:
        expired = source(Status.EXPIRED, id=42)

        first, second = action_blocks(expired, NOW)

        assert first["type"] == "section"
        assert first["text"]["text"] == ":lock: *LinkedIn connection expired on 27 Nov*"
        assert "Acme" not in first["text"]["text"]
        assert second["type"] == "context"
        assert context_texts([second]) == ["LinkedIn · Acme"]

    def test_expired_has_a_reconnect_button_with_the_source_id(self) -> None:
        expired = source(Status.EXPIRED, id=42)

        (button,) = buttons(action_blocks(expired, NOW))

        assert button["action_id"] == ids.RECONNECT_SOURCE == "reconnect_source"
        assert button["value"] == "42"
        assert button["text"]["text"] == "Reconnect"

    def test_expired_with_a_recorded_error_shows_that_error(self) -> None:
        error = LastError(kind="refresh_failed", reason="LinkedIn refused the refresh", at=NOW)
        expired = source(Status.EXPIRED, last_error=error)

        section, context = action_blocks(expired, NOW)

        assert section["text"]["text"] == ":lock: *LinkedIn refused the refresh*"
        assert context_texts([context]) == ["LinkedIn · Acme"]

    def test_expired_without_expiry_or_error_still_says_what_is_wrong(self) -> None:
        expired = source(Status.EXPIRED)
        expired = replace(expired, expires_at=None)

        section, _ = action_blocks(expired, NOW)

        assert section["text"]["text"] == ":lock: *LinkedIn connection needs reconnecting*"

    def test_revoked_shows_the_lock_and_the_networks_reason(self) -> None:
        revoked = source(Status.REVOKED, id=7)

        section, context = action_blocks(revoked, NOW)

        assert section["text"]["text"] == f":lock: *{REVOKED_REASON}*"
        assert context_texts([context]) == ["LinkedIn · Acme"]
        assert reconnect_values([section]) == ["7"]

    def test_expiring_shows_the_alarm_clock_and_days_left(self) -> None:
        expiring = source(Status.EXPIRING, id=9, expires_at=NOW + timedelta(days=3, hours=1))

        (section,) = action_blocks(expiring, NOW)

        assert section["text"]["text"] == ":alarm_clock: *LinkedIn · Acme* — expires in 3 days"
        assert reconnect_values([section]) == ["9"]

    def test_names_cannot_mention_or_link(self) -> None:
        for status in Status:
            text = all_text(action_blocks(source(status, name=HOSTILE_NAME), NOW))
            assert "<!channel>" not in text
            assert "<@U999" not in text
            assert "<https://evil" not in text
            assert "&lt;!channel&gt; Acme &amp; &lt;@U999|boss&gt;" in text

    def test_error_reasons_are_escaped_too(self) -> None:
        error = LastError(kind="x", reason="Token <!here> & gone", at=NOW)

        text = all_text(action_blocks(source(Status.REVOKED, last_error=error), NOW))

        assert "<!here>" not in text
        assert "Token &lt;!here&gt; &amp; gone" in text


class TestSourceLine:
    def test_active_shows_check_name_and_validity(self) -> None:
        assert (
            source_line(source(Status.ACTIVE), NOW)
            == ":white_check_mark: LinkedIn · Acme — valid until 27 Jan"
        )

    def test_active_without_expiry_says_it_does_not_expire(self) -> None:
        active = source(Status.ACTIVE)
        active = replace(active, expires_at=None)

        assert source_line(active, NOW) == ":white_check_mark: LinkedIn · Acme — does not expire"

    def test_expiring_line(self) -> None:
        expiring = source(Status.EXPIRING, expires_at=NOW + timedelta(hours=5))

        assert source_line(expiring, NOW) == ":alarm_clock: LinkedIn · Acme — expires in 5 hours"

    def test_who_connected_it_is_mentioned(self) -> None:
        connected = source(Status.ACTIVE, connected_by="U42")

        assert source_line(connected, NOW).endswith("valid until 27 Jan, connected by <@U42>")

    def test_name_is_escaped(self) -> None:
        line = source_line(source(Status.ACTIVE, name="a<b>&c"), NOW)

        assert "LinkedIn · a&lt;b&gt;&amp;c" in line
        assert "<b>" not in line


def test_sort_puts_what_needs_a_person_first() -> None:
    active = source(Status.ACTIVE, name="aaa")
    expiring = source(Status.EXPIRING, name="bbb")
    expired = source(Status.EXPIRED, name="zzz")
    revoked = source(Status.REVOKED, name="ccc")

    ordered = sort_for_display([active, expiring, expired, revoked])

    assert ordered == [revoked, expired, expiring, active]


class TestSourceListBlocks:
    def test_small_list_shows_everything_without_a_more_line(self) -> None:
        expired = source(Status.EXPIRED, id=1)
        active = [source(Status.ACTIVE, name=f"Page {i}") for i in range(3)]

        blocks = source_list_blocks([*active, expired], NOW, 49, HINT)

        assert reconnect_values(blocks) == ["1"]
        assert section_texts(blocks)[0].startswith(":lock: *LinkedIn connection expired on")
        lines = section_texts(blocks)[-1].split("\n")
        assert lines == [
            f":white_check_mark: LinkedIn · Page {i} — valid until 27 Jan" for i in range(3)
        ]
        assert not any("more" in text for text in context_texts(blocks))

    def test_exactly_full_needs_no_more_line(self) -> None:
        expired = [source(Status.EXPIRED, id=i) for i in range(1, 25)]  # 2 blocks each

        blocks = source_list_blocks(expired, NOW, 48, HINT)

        assert len(blocks) == 48
        assert len(reconnect_values(blocks)) == 24
        assert HINT not in all_text(blocks)

    def test_one_too_many_counts_the_rest(self) -> None:
        expired = [source(Status.EXPIRED, id=i) for i in range(1, 26)]

        blocks = source_list_blocks(expired, NOW, 48, HINT)

        assert len(blocks) <= 48
        shown = len(reconnect_values(blocks))
        last = context_texts(blocks[-1:])[0]
        assert last == f"…and {25 - shown} more source{'s' if 25 - shown != 1 else ''}. {HINT}"

    @pytest.mark.parametrize("max_blocks", [3, 10, 49, 93])
    def test_large_list_fits_and_counts_what_was_left_out(self, max_blocks: int) -> None:
        sources = many_sources(500)

        blocks = source_list_blocks(sources, NOW, max_blocks, HINT)

        assert len(blocks) <= max_blocks
        assert all(len(text) <= SECTION_TEXT_LIMIT for text in section_texts(blocks))
        shown_with_button = reconnect_values(blocks)
        shown_as_lines = [
            line
            for block in blocks
            if block["type"] == "section" and "accessory" not in block
            for line in block["text"]["text"].split("\n")
        ]
        shown = len(shown_with_button) + len(shown_as_lines)
        assert shown + more_count(context_texts(blocks[-1:])[0]) == 500
        # What is shown is the head of the display order, the most urgent first.
        ordered = sort_for_display(sources)
        assert shown_with_button == [str(s.id) for s in ordered[: len(shown_with_button)]]

    def test_healthy_sources_share_sections_within_the_text_limit(self) -> None:
        active = [source(Status.ACTIVE, name=f"{i:03d} " + "n" * 251) for i in range(60)]

        blocks = source_list_blocks(active, NOW, 49, HINT)

        texts = section_texts(blocks)
        assert len(texts) < 60  # packed several to a section
        assert all(len(text) <= SECTION_TEXT_LIMIT for text in texts)
        assert sum(len(text.split("\n")) for text in texts) == 60
