"""What /sources and the App Home say about a source that renews by itself until its refresh
token dies (bot/blocks/sources.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sample_sources import NOW, source

from bot.blocks.sources import action_blocks, detail, source_line
from bot.domain import LastError, SourceInfo, Status


def renewing(status: Status = Status.ACTIVE, dies_in: timedelta | None = None) -> SourceInfo:
    return replace(
        source(status, name="Acme"),
        renews_at=NOW + timedelta(days=20),
        refresh_expires_at=NOW + dies_in if dies_in is not None else None,
    )


def test_far_off_it_says_when_renewal_ends() -> None:
    shown = renewing(dies_in=timedelta(days=300))
    assert detail(shown, NOW) == "renews by itself around 18 Dec; its renewal ends 24 Sep 2027"


def test_unknown_it_says_nothing_more() -> None:
    assert detail(renewing(), NOW) == "renews by itself around 18 Dec"


def test_near_it_says_to_reconnect_with_a_button() -> None:
    shown = renewing(Status.EXPIRING, dies_in=timedelta(days=3, hours=2))
    expected = (
        "stops renewing in 3 days (its refresh token expires on 1 Dec): reconnect before then"
    )
    assert detail(shown, NOW) == expected
    (block,) = action_blocks(shown, NOW)
    assert block["accessory"]["action_id"] == "reconnect_source"
    assert source_line(shown, NOW).startswith(":alarm_clock:")


def test_a_failing_renewal_is_said_first() -> None:
    failing = replace(
        renewing(Status.EXPIRING, dies_in=timedelta(days=3)),
        last_error=LastError("transient", "X answered HTTP 503", NOW),
    )
    assert detail(failing, NOW).startswith("renewal failing: X answered HTTP 503")
