"""Status rules and the words that explain them (bot/status.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import Status
from bot.status import effective_status, expired_reason, expires_in, long_date, short_date

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
WARN = (7, 1)


class TestEffectiveStatus:
    @pytest.mark.parametrize("stored", ["expired", "revoked"])
    @pytest.mark.parametrize("expires_at", [None, NOW + timedelta(days=60), NOW - timedelta(1)])
    def test_stored_verdicts_that_need_a_person_win(
        self, stored: str, expires_at: datetime | None
    ) -> None:
        assert effective_status(stored, expires_at, NOW, WARN) is Status(stored)

    @pytest.mark.parametrize("stored", ["active", "expiring"])
    def test_past_expiry_is_expired(self, stored: str) -> None:
        assert effective_status(stored, NOW - timedelta(seconds=1), NOW, WARN) is Status.EXPIRED

    def test_expiring_this_very_moment_is_expired(self) -> None:
        assert effective_status("active", NOW, NOW, WARN) is Status.EXPIRED

    @pytest.mark.parametrize(
        "left", [timedelta(seconds=1), timedelta(days=1), timedelta(days=6, hours=23)]
    )
    def test_within_the_widest_warning_is_expiring(self, left: timedelta) -> None:
        assert effective_status("active", NOW + left, NOW, WARN) is Status.EXPIRING

    def test_the_widest_warning_is_inclusive(self) -> None:
        assert effective_status("active", NOW + timedelta(days=7), NOW, WARN) is Status.EXPIRING
        assert (
            effective_status("active", NOW + timedelta(days=7, seconds=1), NOW, WARN)
            is Status.ACTIVE
        )

    def test_the_largest_warning_counts_whatever_the_order(self) -> None:
        in_ten_days = NOW + timedelta(days=10)

        assert effective_status("active", in_ten_days, NOW, (1, 14)) is Status.EXPIRING
        assert effective_status("active", in_ten_days, NOW, (7, 1)) is Status.ACTIVE

    def test_no_warning_days_never_warns(self) -> None:
        assert effective_status("active", NOW + timedelta(hours=1), NOW, ()) is Status.ACTIVE

    @pytest.mark.parametrize("stored", ["active", "expiring"])
    def test_no_expiry_is_active(self, stored: str) -> None:
        assert effective_status(stored, None, NOW, WARN) is Status.ACTIVE

    def test_a_stored_expiring_that_was_renewed_far_ahead_is_active(self) -> None:
        assert effective_status("expiring", NOW + timedelta(days=60), NOW, WARN) is Status.ACTIVE

    def test_unknown_stored_status_is_refused(self) -> None:
        with pytest.raises(ValueError, match="broken"):
            effective_status("broken", None, NOW, WARN)


class TestExpiresIn:
    @pytest.mark.parametrize(
        ("left", "words"),
        [
            (timedelta(minutes=1), "expires within the hour"),
            (timedelta(minutes=59, seconds=59), "expires within the hour"),
            (timedelta(hours=1), "expires in 1 hour"),
            (timedelta(hours=1, minutes=59), "expires in 1 hour"),
            (timedelta(hours=2), "expires in 2 hours"),
            (timedelta(hours=23, minutes=59), "expires in 23 hours"),
            (timedelta(days=1), "expires in 1 day"),
            (timedelta(days=1, hours=12), "expires in 1 day"),
            (timedelta(days=2), "expires in 2 days"),
            (timedelta(days=6, hours=23), "expires in 6 days"),
            (timedelta(days=7), "expires in 7 days"),
            (timedelta(days=60), "expires in 60 days"),
        ],
    )
    def test_wording(self, left: timedelta, words: str) -> None:
        assert expires_in(NOW + left, NOW) == words

    @pytest.mark.parametrize("ago", [timedelta(0), timedelta(days=1)])
    def test_past_says_when_it_expired(self, ago: timedelta) -> None:
        moment = NOW - ago
        assert expires_in(moment, NOW) == f"expired on {moment.day} {moment:%b}"

    def test_past_wording_uses_the_expiry_date(self) -> None:
        assert expires_in(datetime(2026, 11, 3, tzinfo=UTC), NOW) == "expired on 3 Nov"


def test_dates_read_as_people_write_them() -> None:
    moment = datetime(2027, 1, 5, 9, 0, tzinfo=UTC)

    assert short_date(moment) == "5 Jan"
    assert long_date(moment) == "5 Jan 2027"
    assert expired_reason("LinkedIn", datetime(2026, 11, 27, tzinfo=UTC)) == (
        "LinkedIn connection expired on 27 Nov"
    )
