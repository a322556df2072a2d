"""The one rule for how long a source's trouble may be snoozed (bot/services/snoozes.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.services.snoozes import choices, until_for

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def offered(
    ends: datetime | None, dead: bool = False, max_days: int = 3
) -> list[tuple[str, str, timedelta]]:
    return [(c.key, c.label, until - NOW) for c, until in choices(NOW, ends, dead, max_days)]


def test_a_week_ahead_every_choice_is_what_it_says() -> None:
    assert offered(NOW + 7 * DAY) == [
        ("1d", "In 1 day", DAY),
        ("3d", "In 3 days", 3 * DAY),
        ("before", "The day before it expires", 6 * DAY),
    ]


def test_never_past_the_expiry() -> None:
    assert offered(NOW + 2 * DAY) == [("1d", "In 1 day", DAY), ("3d", "Until it expires", 2 * DAY)]
    hours = timedelta(hours=20)
    assert offered(NOW + hours) == [("1d", "Until it expires", hours)]
    assert until_for("3d", NOW, NOW + hours, False, 3) == NOW + hours
    assert until_for("before", NOW, NOW + hours, False, 3) is None
    assert offered(NOW) == offered(None) == offered(NOW - DAY) == []


@pytest.mark.parametrize(
    ("max_days", "expected"),
    [
        (3, [("1d", "In 1 day", DAY), ("3d", "In 3 days", 3 * DAY)]),
        (2, [("1d", "In 1 day", DAY), ("3d", "In 2 days", 2 * DAY)]),
        (1, [("1d", "In 1 day", DAY)]),
        (0, []),
        (30, [("1d", "In 1 day", DAY), ("3d", "In 3 days", 3 * DAY)]),
    ],
)
def test_a_dead_source_is_snoozed_at_most_max_snooze_days(
    max_days: int, expected: list[tuple[str, str, timedelta]]
) -> None:
    assert offered(None, dead=True, max_days=max_days) == expected
    assert until_for("before", NOW, None, True, max_days) is None
    assert until_for("forever", NOW, NOW + DAY, False, max_days) is None


@given(
    ends=st.none() | st.timedeltas(min_value=timedelta(minutes=-60), max_value=timedelta(days=90)),
    dead=st.booleans(),
    max_days=st.integers(min_value=0, max_value=30),
    choice=st.sampled_from(["1d", "3d", "before", "", "x"]),
)
def test_any_snooze_ends_in_the_future_within_its_bound(
    ends: timedelta | None, dead: bool, max_days: int, choice: str
) -> None:
    deadline = NOW + ends if ends is not None else None
    until = until_for(choice, NOW, deadline, dead, max_days)
    if until is None:
        return
    assert until > NOW
    if dead:
        assert until - NOW <= timedelta(days=max_days)
    else:
        assert deadline is not None and until <= deadline
    offered_untils = [u for _, u in choices(NOW, deadline, dead, max_days)]
    assert len(offered_untils) == len(set(offered_untils))
