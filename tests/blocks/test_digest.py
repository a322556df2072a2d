"""The daily digest (bot/blocks/digest.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from blockkit import assert_valid_message
from sample_sources import (
    HOSTILE_NAME,
    NOW,
    all_text,
    context_texts,
    more_count,
    reconnect_values,
    section_texts,
    source,
)

from bot.blocks.base import SECTION_TEXT_LIMIT
from bot.blocks.digest import MAX_DIGEST_BLOCKS, DigestContent, digest
from bot.domain import SourceInfo, Status

DAY = date(2026, 11, 28)


def content(
    expired: Sequence[SourceInfo] = (),
    expiring: Sequence[SourceInfo] = (),
    restored: Sequence[SourceInfo] = (),
    total: int = 10,
) -> DigestContent:
    return DigestContent(
        day=DAY, expired=expired, expiring=expiring, restored=restored, total=total
    )


def test_all_well() -> None:
    message = digest(content(total=5), NOW)

    assert_valid_message(message.to_dict())
    assert message.blocks[0]["type"] == "header"
    assert message.blocks[0]["text"]["text"] == "Sources digest · 28 Nov"
    assert section_texts(message.blocks) == [":white_check_mark: All 5 sources are working."]
    assert message.text == "Sources digest 28 Nov: all 5 sources are working"
    assert reconnect_values(message.blocks) == []


def test_expired_expiring_and_restored_sections() -> None:
    expired = source(Status.EXPIRED, id=1, name="Acme")
    expiring = source(Status.EXPIRING, id=2, name="Beta", expires_at=NOW + timedelta(days=3))
    restored = source(Status.ACTIVE, id=3, name="Gamma", restored_by="U5", restored_at=NOW)
    restored_by_nobody = source(Status.ACTIVE, id=4, name="Delta", restored_at=NOW)

    message = digest(content([expired], [expiring], [restored, restored_by_nobody]), NOW)

    assert_valid_message(message.to_dict())
    texts = section_texts(message.blocks)
    assert texts[0] == "*Expired — imports stopped (1)*"
    assert texts[1] == ":lock: *LinkedIn connection expired on 27 Nov*"
    assert "LinkedIn · Acme" in context_texts(message.blocks)
    assert reconnect_values(message.blocks) == ["1"]
    assert "*Expiring within 7 days (1)*" in texts
    assert ":alarm_clock: LinkedIn · Beta — expires in 3 days" in texts
    assert "*Restored since the last digest (2)*" in texts
    assert (
        ":white_check_mark: LinkedIn · Gamma — by <@U5>\n:white_check_mark: LinkedIn · Delta"
    ) in texts
    assert message.text == "Sources digest 28 Nov: 1 expired, 1 expiring within 7 days, 2 restored"


def test_only_restored_is_not_all_well() -> None:
    restored = source(Status.ACTIVE, name="Gamma", restored_by="U5", restored_at=NOW)

    message = digest(content(restored=[restored]), NOW)

    assert message.text == "Sources digest 28 Nov: 1 restored"
    assert "All" not in all_text(message.blocks)


def test_many_sources_fit_and_counts_are_right() -> None:
    long = "N" * 250
    expired = [source(Status.EXPIRED, id=i, name=f"{i} {long}") for i in range(1, 101)]
    expiring = [source(Status.EXPIRING, name=f"{i} {long}") for i in range(200)]
    restored = [source(Status.ACTIVE, name=f"{i} {long}", restored_by="U1") for i in range(200)]

    message = digest(content(expired, expiring, restored, total=600), NOW)

    assert_valid_message(message.to_dict())
    assert len(message.blocks) <= MAX_DIGEST_BLOCKS
    texts = section_texts(message.blocks)
    assert all(len(text) <= SECTION_TEXT_LIMIT for text in texts)
    shown_expired = len(reconnect_values(message.blocks))
    (expired_more,) = [t for t in context_texts(message.blocks) if "/sources expired" in t]
    assert shown_expired + more_count(expired_more) == 100
    expiring_lines = next(t for t in texts if t.startswith(":alarm_clock:")).split("\n")
    assert len(expiring_lines) - 1 + more_count(expiring_lines[-1]) == 200
    restored_lines = next(t for t in texts if t.startswith(":white_check_mark:")).split("\n")
    assert len(restored_lines) - 1 + more_count(restored_lines[-1]) == 200


def test_names_are_escaped_everywhere() -> None:
    message = digest(
        content(
            [source(Status.EXPIRED, name=HOSTILE_NAME)],
            [source(Status.EXPIRING, name=HOSTILE_NAME)],
            [source(Status.ACTIVE, name=HOSTILE_NAME, restored_by="U1")],
        ),
        NOW,
    )

    text = all_text(message.blocks)
    assert "<!channel>" not in text
    assert "<@U999" not in text
    assert text.count("&lt;!channel&gt;") == 3
