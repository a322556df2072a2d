"""A source's history modal (bot/blocks/history.py)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from blockkit import assert_valid_message, assert_valid_view
from sample_sources import HOSTILE_NAME, NOW, all_text, buttons, section_texts, source

from bot import ids
from bot.blocks.history import (
    fold,
    history_matches,
    history_metadata,
    history_view,
    moment,
    page_value,
    parse_page_value,
)
from bot.domain import SourceEvent, Status

PARIS = ZoneInfo("Europe/Paris")


def event(
    number: int, type: str = "source.expired", actor: str = "scan", **payload: object
) -> SourceEvent:
    return SourceEvent(
        id=f"evt_{number:026d}",
        type=type,
        actor=actor,
        payload=payload or {"reason": f"reason {number}"},
        at=NOW - timedelta(minutes=number),
    )


def test_each_known_event_reads_as_a_sentence() -> None:
    events = [
        event(1, "source.connected", "U1", by="U1", **{"as": "Ada"}),
        event(2, "source.restored", "U2", by="U2", **{"as": "Bo"}),
        event(3, "source.renewed", "api-key:platform", expires_at="2027-01-27T09:00:00+00:00"),
        event(4, "source.renewal_failing", kind="transient", reason="X answered HTTP 503"),
        event(5, "source.expiring", days=7, expires_at="2026-12-05T09:00:00+00:00"),
        event(6, "source.expiring", days=1, refresh_token_expires_at="2026-12-05T09:00:00+00:00"),
        event(7, "source.expired", reason="LinkedIn connection expired on 27 Nov"),
        event(8, "source.revoked", reason="access was removed"),
        event(9, "source.wrong_account", "U3", by="U3", account_id="x", **{"as": "Cy"}),
        event(10, "source.removed", "cli"),
    ]
    view = history_view(source(Status.ACTIVE, name="Acme"), events, "Europe/Paris", NOW)
    assert_valid_view(view)
    lines = [text.split(" · ", 1)[1] for text in section_texts(view["blocks"])[1:]]
    assert lines == [
        ":link: Connected by <@U1> as *Ada*",
        ":white_check_mark: Restored by <@U2> as *Bo*",
        ":arrows_counterclockwise: Renewed when the API (key “platform”) asked, valid until 27 Jan",
        ":warning: Renewal failing: X answered HTTP 503; retrying",
        ":alarm_clock: Warned: it expires within 7 days",
        ":alarm_clock: Warned: its renewal ends within 1 day (the refresh token expires)",
        ":lock: Expired: LinkedIn connection expired on 27 Nov",
        ":lock: Access revoked: access was removed",
        ":warning: <@U3> signed in as *Cy*, a login that does not reach it; nothing changed",
        ":wastebasket: Removed by the command line",
    ]


def test_times_are_in_the_viewers_zone_with_the_year_only_when_another() -> None:
    assert moment(NOW, PARIS, NOW) == "Sat 28 Nov 09:00"
    assert moment(NOW - timedelta(days=365), PARIS, NOW) == "Fri 28 Nov 2025 09:00"
    assert moment(NOW, ZoneInfo("America/Los_Angeles"), NOW) == "Sat 28 Nov 00:00"


def test_repeats_fold_but_other_events_do_not() -> None:
    renewals = [event(n, "source.renewed", "scan", expires_at=None) for n in range(1, 13)]
    reads = [event(n, "source.token_read", "api-key:a") for n in range(13, 16)]
    other_reader = [event(16, "source.token_read", "api-key:b")]
    expired = [event(17), event(18)]
    lines = fold([*renewals, *reads, *other_reader, *expired])
    assert [(line.newest.type, line.count) for line in lines] == [
        ("source.renewed", 12),
        ("source.token_read", 3),
        ("source.token_read", 1),
        ("source.expired", 1),
        ("source.expired", 1),
    ]
    view = history_view(source(), [*renewals, *reads], "UTC", NOW)
    first = section_texts(view["blocks"])[1]
    assert first == (
        "*Sat 28 Nov 07:59* · :arrows_counterclockwise: Renewed by itself "
        "(12 times since Sat 28 Nov 07:48)"
    )


def test_unknown_events_show_their_type_and_plain_payload_escaped() -> None:
    strange = event(1, "source.<b>new</b>", "U9", note=HOSTILE_NAME, count=3, nested={"a": 1})
    view = history_view(source(), [strange], "UTC", NOW)
    assert_valid_view(view)
    text = section_texts(view["blocks"])[1]
    assert "`source.&lt;b&gt;new&lt;/b&gt;` by <@U9>" in text
    assert "<!channel>" not in text and "count: 3" in text and "nested" not in text


def test_hostile_names_and_reasons_are_escaped_and_long_ones_fit() -> None:
    events = [event(n, "source.expired", reason=HOSTILE_NAME + "R" * 5000) for n in range(1, 21)]
    view = history_view(source(Status.EXPIRED, name=HOSTILE_NAME), events, "UTC", NOW, "evt_1")
    assert_valid_view(view)
    text = all_text(view["blocks"])
    assert "<!channel>" not in text and "<@U999" not in text


def test_paging_buttons_carry_the_source_and_the_cursor() -> None:
    shown = source(id=42)
    view = history_view(shown, [event(1)], "Asia/Tokyo", NOW, older="evt_A", newer="evt_B")
    values = {b["action_id"]: b["value"] for b in buttons(view["blocks"])}
    assert values == {ids.HISTORY_NEWER: "42:evt_B", ids.HISTORY_OLDER: "42:evt_A"}
    assert parse_page_value(values[ids.HISTORY_OLDER]) == (42, "evt_A")
    assert parse_page_value("x:evt_A") is None and parse_page_value("42:nope") is None
    assert history_metadata(view) == (42, "Asia/Tokyo")
    assert history_metadata({"private_metadata": "{"}) is None
    assert page_value(7, "evt_Z") == "7:evt_Z"
    bare = history_view(shown, [], "UTC", NOW)
    assert buttons(bare["blocks"]) == []
    assert "Nothing has happened" in all_text(bare["blocks"])


def test_many_matches_fit_one_message_with_a_button_each() -> None:
    matches = [source(name=f"Acme {n} " + "x" * 240, id=n) for n in range(1, 60)]
    message = history_matches(HOSTILE_NAME, matches, NOW)
    assert_valid_message(message.to_dict())
    shown = [b for b in buttons(message.blocks) if b["action_id"] == ids.SOURCE_HISTORY]
    assert len(shown) == 19 and "…and 40 more" in all_text(message.blocks)
    assert "<!channel>" not in message.text
