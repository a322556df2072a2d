"""Replies to /sources (bot/blocks/replies.py)."""

from __future__ import annotations

import pytest
from blockkit import assert_valid_message
from sample_sources import (
    HOSTILE_NAME,
    NOW,
    all_text,
    context_texts,
    many_sources,
    more_count,
    reconnect_values,
    section_texts,
    source,
    stray_angle_brackets,
)

from bot.blocks.base import SECTION_TEXT_LIMIT
from bot.blocks.replies import MAX_MESSAGE_BLOCKS, help_message, short, sources_list
from bot.blocks.sources import sort_for_display
from bot.config import Settings
from bot.domain import Status
from bot.networks import Network, load_catalogue


class TestSourcesList:
    def test_no_sources_at_all(self) -> None:
        message = sources_list([], NOW)

        assert_valid_message(message.to_dict())
        assert section_texts(message.blocks) == [
            "No sources yet. Connect one with `/sources connect &lt;network&gt;`."
        ]

    @pytest.mark.parametrize(
        ("what", "answer"),
        [("expired", "No expired sources."), ("LinkedIn", "No LinkedIn sources.")],
    )
    def test_no_match_names_the_filter(self, what: str, answer: str) -> None:
        message = sources_list([], NOW, what)

        assert message.text == answer
        assert section_texts(message.blocks) == [answer]

    def test_summary_and_every_status(self) -> None:
        sources = [
            source(Status.ACTIVE, id=1, name="Active Page"),
            source(Status.EXPIRING, id=2, name="Soon Page"),
            source(Status.EXPIRED, id=3, name="Dead Page"),
            source(Status.REVOKED, id=4, name="Revoked Page"),
        ]

        message = sources_list(sources, NOW)

        assert_valid_message(message.to_dict())
        assert message.text == "4 sources, 2 need reconnecting"
        assert context_texts(message.blocks[:1]) == ["4 sources, 2 need reconnecting"]
        assert reconnect_values(message.blocks) == ["3", "4", "2"]
        text = all_text(message.blocks)
        assert ":lock: *LinkedIn connection expired on 27 Nov*" in text
        assert "LinkedIn · Dead Page" in context_texts(message.blocks)
        assert ":alarm_clock: *LinkedIn · Soon Page* — expires in 3 days" in text
        assert ":white_check_mark: LinkedIn · Active Page — valid until 27 Jan" in text

    def test_summary_singular_and_filter_name(self) -> None:
        message = sources_list([source(Status.EXPIRED)], NOW, "expired")

        assert message.text == "1 expired source, 1 needs reconnecting"

    def test_summary_without_broken_sources(self) -> None:
        message = sources_list([source(Status.ACTIVE), source(Status.ACTIVE)], NOW, "LinkedIn")

        assert message.text == "2 LinkedIn sources"

    def test_names_are_escaped(self) -> None:
        sources = [source(status, name=HOSTILE_NAME) for status in Status]

        text = all_text(sources_list(sources, NOW).blocks)

        assert "<!channel>" not in text
        assert "<@U999" not in text
        assert "<https://evil" not in text
        assert text.count("&lt;!channel&gt;") == len(Status)

    def test_five_hundred_sources_fit_in_one_message(self) -> None:
        sources = many_sources(500)

        message = sources_list(sources, NOW)

        assert_valid_message(message.to_dict())
        blocks = message.blocks
        assert len(blocks) <= MAX_MESSAGE_BLOCKS
        assert all(len(text) <= SECTION_TEXT_LIMIT for text in section_texts(blocks))
        assert all(len(text) <= SECTION_TEXT_LIMIT for text in context_texts(blocks))
        last = context_texts(blocks[-1:])[0]
        assert last.startswith("…and ")
        assert "more sources" in last
        shown_ids = reconnect_values(blocks)
        healthy_lines = [
            line
            for block in blocks
            if block["type"] == "section" and "accessory" not in block
            for line in block["text"]["text"].split("\n")
        ]
        assert len(shown_ids) + len(healthy_lines) + more_count(last) == 500
        ordered = sort_for_display(sources)
        assert shown_ids == [str(s.id) for s in ordered[: len(shown_ids)]]
        assert message.text.startswith("500 sources, ")

    def test_five_hundred_healthy_sources_pack_into_sections(self) -> None:
        sources = [source(Status.ACTIVE, name=f"{i} " + "x" * 250) for i in range(500)]

        message = sources_list(sources, NOW)

        assert_valid_message(message.to_dict())
        lines = [line for text in section_texts(message.blocks) for line in text.split("\n")]
        assert len(lines) > 49  # several per section, not one block each
        assert len(lines) + more_count(context_texts(message.blocks[-1:])[0]) == 500


def networks() -> list[Network]:
    settings = Settings.from_env({"LINKEDIN_CLIENT_ID": "id", "LINKEDIN_CLIENT_SECRET": "secret"})
    return list(load_catalogue(settings))


class TestHelp:
    def test_help_lists_every_command(self) -> None:
        message = help_message(networks())

        assert_valid_message(message.to_dict())
        (text,) = section_texts(message.blocks)
        for usage in ("`/sources`", "`/sources expired`", "`/sources help`", "/sources connect"):
            assert usage in text
        assert "Reconnect" in text
        assert message.text == "How to use /sources"

    def test_prefix_comes_first(self) -> None:
        (text,) = section_texts(help_message(networks(), "I didn't understand `foo`.").blocks)

        assert text.startswith("I didn't understand `foo`.\n\n*`/sources`*")

    def test_help_says_which_networks_can_be_connected(self) -> None:
        (ready, waiting) = context_texts(help_message(networks()).blocks)

        assert ready == "Networks you can connect: `linkedin`."
        assert waiting.startswith("Not configured by the operator: X, Facebook, Instagram")

    def test_short(self) -> None:
        message = short("Done.")

        assert message.text == "Done."
        assert section_texts(message.blocks) == ["Done."]


def test_usage_placeholders_survive_slack_mrkdwn() -> None:
    texts = [
        all_text(help_message(networks()).blocks),
        all_text(sources_list([], NOW).blocks),
        all_text(sources_list(many_sources(500), NOW).blocks),
    ]

    for text in texts:
        assert stray_angle_brackets(text) == []
