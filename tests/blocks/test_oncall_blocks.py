"""The team workflow's Block Kit (bot/blocks/oncall.py and its use in notices): claims,
snoozes, renewals failing and recovering, reminders and escalations, within Slack's limits."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
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
    stray_angle_brackets,
)

from bot import ids
from bot.blocks.notice import (
    FAILING_INTRO,
    NoticeEntry,
    expiry_notice,
    failing_notice,
    warning_notice,
)
from bot.blocks.oncall import (
    claim_reminder,
    escalation_reply,
    moment_since,
    recovered_reply,
)
from bot.domain import Attention, LastError, SnoozeChoice, SourceInfo, Status

PARIS = ZoneInfo("Europe/Paris")
BLIP = LastError("transient", "X is not answering (HTTP 503)", NOW)
CHOICES = (
    SnoozeChoice("1d", "In 1 day"),
    SnoozeChoice("3d", "In 3 days"),
    SnoozeChoice("before", "The day before it expires"),
)


def failing_source() -> SourceInfo:
    return source(
        Status.EXPIRING, id=7, name="Acme on X", network="x", network_title="X", last_error=BLIP
    )


def workflow_elements(blocks: list[dict[str, object]]) -> list[dict[str, object]]:
    return [
        element
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]  # type: ignore[attr-defined]
        if element["action_id"] in (ids.CLAIM_SOURCE, ids.SNOOZE_SOURCE)
    ]


class TestFailingNotice:
    def test_names_the_reason_since_when_in_the_workspace_zone_and_keeps_trying(self) -> None:
        since = NOW - timedelta(minutes=61)  # 06:59 UTC, 07:59 in Paris
        entry = NoticeEntry(failing_source(), attention=Attention(failing_since=since))

        message = failing_notice([entry], NOW, PARIS)

        assert_valid_message(message.to_dict())
        assert message.blocks[0]["text"]["text"] == ":alarm_clock: Renewal failing for 1 connection"
        assert FAILING_INTRO in section_texts(message.blocks)
        assert (
            ":alarm_clock: *X · Acme on X* — X is not answering (HTTP 503) since 07:59; "
            "I keep trying" in section_texts(message.blocks)
        )
        assert reconnect_values(message.blocks) == ["7"]
        assert message.text == "Renewal failing for 1 connection: X · Acme on X"

    def test_a_streak_from_another_day_says_which_day(self) -> None:
        assert moment_since(NOW - timedelta(days=1), NOW, PARIS) == "Fri 27 Nov 09:00"
        assert moment_since(NOW - timedelta(hours=1), NOW, PARIS) == "08:00"

    def test_recovered_says_so_in_place_without_buttons(self) -> None:
        entry = NoticeEntry(
            source(Status.ACTIVE, name="Acme on X"),
            restored_by="scan",
            restored_at=NOW,
            recovered=True,
        )

        message = failing_notice([entry], NOW, PARIS)

        assert_valid_message(message.to_dict())
        assert message.blocks[0]["text"]["text"] == ":white_check_mark: Recovered by itself"
        assert section_texts(message.blocks) == [
            ":white_check_mark: *LinkedIn · Acme on X* recovered by itself"
        ]
        assert workflow_elements(message.blocks) == reconnect_values(message.blocks) == []
        assert message.text == "LinkedIn · Acme on X recovered by itself"

    @pytest.mark.parametrize(
        ("recovered", "header"),
        [
            ((True, True), ":white_check_mark: All recovered by themselves"),
            ((True, False), ":white_check_mark: All working again"),
            ((False, False), ":white_check_mark: All reconnected"),
        ],
    )
    def test_the_header_of_a_notice_all_done(
        self, recovered: tuple[bool, bool], header: str
    ) -> None:
        entries = [
            NoticeEntry(source(Status.ACTIVE), restored_by="U1", restored_at=NOW, recovered=r)
            for r in recovered
        ]
        assert expiry_notice(entries, NOW).blocks[0]["text"]["text"] == header

    def test_the_recovered_reply_gives_the_local_time(self) -> None:
        message = recovered_reply(source(Status.ACTIVE, name="Acme on X"), NOW, PARIS)
        assert_valid_message(message.to_dict())
        assert message.text == (
            "LinkedIn · Acme on X recovered by itself at 09:00: renewal works again. Nothing to do."
        )


class TestClaimsAndSnoozes:
    def test_an_open_entry_offers_take_it_and_remind_me_with_its_choices(self) -> None:
        entry = NoticeEntry(source(Status.EXPIRING, id=5), attention=Attention(choices=CHOICES))

        message = warning_notice([entry], NOW)

        assert_valid_message(message.to_dict())
        take, remind = workflow_elements(message.blocks)
        assert (take["text"]["text"], take["value"]) == ("I'll take it", "5")  # type: ignore[index]
        assert remind["type"] == "static_select"
        assert remind["placeholder"]["text"] == "Remind me…"  # type: ignore[index]
        assert [(o["text"]["text"], o["value"]) for o in remind["options"]] == [  # type: ignore[attr-defined]
            ("In 1 day", "5:1d"),
            ("In 3 days", "5:3d"),
            ("The day before it expires", "5:before"),
        ]

    def test_without_choices_there_is_only_take_it(self) -> None:
        message = expiry_notice([NoticeEntry(source(Status.EXPIRED, id=5))], NOW)
        (take,) = workflow_elements(message.blocks)
        assert take["action_id"] == ids.CLAIM_SOURCE

    def test_who_is_on_it_and_until_when_it_is_snoozed(self) -> None:
        attention = Attention(
            claimed_by="U3", snoozed_by="U2", snoozed_until=NOW + timedelta(days=3)
        )
        expired = NoticeEntry(source(Status.EXPIRED, name="Acme"), attention=attention)
        expiring = NoticeEntry(source(Status.EXPIRING, name="Beta"), attention=attention)

        message = expiry_notice([expired, expiring], NOW, PARIS)

        assert_valid_message(message.to_dict())
        texts = context_texts(message.blocks)
        # The expired one's state joins its context line, under its name.
        assert texts.count(":raising_hand: <@U3> is on it") == 2
        assert texts.count(":zzz: snoozed by <@U2> until Tue 1 Dec 09:00") == 2
        assert "LinkedIn · Acme" in texts
        assert reconnect_values(message.blocks) == [str(expired.source.id), str(expiring.source.id)]

    def test_restored_entries_show_no_claim_or_snooze(self) -> None:
        entry = NoticeEntry(
            source(Status.ACTIVE),
            restored_by="U2",
            restored_at=NOW,
            attention=Attention(claimed_by="U3", choices=CHOICES),
        )
        message = expiry_notice([entry], NOW)
        assert "is on it" not in all_text(message.blocks)
        assert workflow_elements(message.blocks) == []

    def test_a_hundred_entries_with_claims_and_snoozes_fit(self) -> None:
        attention = Attention(
            claimed_by="U3",
            snoozed_by="U2",
            snoozed_until=NOW + timedelta(days=1),
            choices=CHOICES,
        )
        entries = [
            NoticeEntry(source(Status.EXPIRED, name=f"Page {n} " + "x" * 240), attention=attention)
            for n in range(100)
        ]

        message = expiry_notice(entries, NOW)

        assert_valid_message(message.to_dict())
        assert len(message.blocks) <= 50
        shown = len(reconnect_values(message.blocks))
        assert shown + more_count(context_texts(message.blocks[-1:])[0]) == 100
        assert len(workflow_elements(message.blocks)) == 2 * shown


class TestReminderAndEscalation:
    def test_the_claim_reminder_says_how_long_ago_with_reconnect(self) -> None:
        acme = source(Status.EXPIRED, id=9)
        message = claim_reminder(acme, NOW - timedelta(hours=4, minutes=20), NOW)
        assert_valid_message(message.to_dict())
        assert message.text == "Reminder: LinkedIn · Acme still needs reconnecting"
        (text,) = section_texts(message.blocks)
        assert text.startswith(":wave: You took on *LinkedIn · Acme* 4 hours ago")
        assert reconnect_values(message.blocks) == ["9"]

    def test_escalation_to_admins_names_who_connected_and_who_took_it(self) -> None:
        message = escalation_reply(source(Status.EXPIRED), 24, "U1", "U2", ["U8", "U9"])
        assert_valid_message(message.to_dict())
        (text,) = section_texts(message.blocks)
        assert text == (
            ":rotating_light: *LinkedIn · Acme* has needed reconnecting for 24 hours, and its "
            "imports have stopped. <@U1> connected it last. <@U2> said they'd take it. "
            "<@U8> <@U9>: please make sure someone reconnects it."
        )

    def test_escalation_to_a_group_or_to_admins_in_words(self) -> None:
        group = escalation_reply(source(Status.EXPIRED), 1, None, None, ["U8"], "S0OPS")
        (text,) = section_texts(group.blocks)
        assert text.endswith(
            "for 1 hour, and its imports have stopped. <!subteam^S0OPS>: "
            "please make sure someone reconnects it."
        )
        nobody = escalation_reply(source(Status.EXPIRED), 24, "api-key:tool", None)
        (text,) = section_texts(nobody.blocks)
        assert "the API (key “tool”) connected it last." in text
        assert text.endswith("Workspace admins: please make sure someone reconnects it.")

    def test_escalation_mentions_at_most_ten_admins_and_nothing_forged(self) -> None:
        admins = [f"U{n:03d}" for n in range(40)]
        message = escalation_reply(
            source(Status.EXPIRED, name=HOSTILE_NAME), 24, None, None, admins, "<!channel>"
        )
        assert_valid_message(message.to_dict())
        text = all_text(message.blocks)
        assert text.count("<@U") == 10
        assert "<!channel>" not in text and "<!subteam" not in text
        assert stray_angle_brackets(text) == []
        assert "<!channel>" not in message.text
