"""The team workflow in Block Kit: claims, snoozes, renewals failing and recovering, and
escalation. Times are shown in the workspace's time zone."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from bot import ids
from bot.blocks import Block, Message
from bot.blocks.base import STATUS_ICONS, actions, button, escape, mention, plain, section
from bot.blocks.sources import reconnect_button
from bot.domain import Attention, SourceInfo

TAKE_IT = "I'll take it"
REMIND_ME = "Remind me…"
KEEP_TRYING = "I keep trying"
MAX_MENTIONS = 10  # admins named in an escalation; a big workspace has many
USER_GROUP = re.compile(r"^S[A-Z0-9]+$")


def clock_time(moment: datetime, zone: tzinfo) -> str:
    """'14:02', in ``zone``."""
    return f"{moment.astimezone(zone):%H:%M}"


def day(moment: datetime, zone: tzinfo) -> str:
    """'Tue 1 Dec', in ``zone``."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b}"


def moment_since(moment: datetime, now: datetime, zone: tzinfo) -> str:
    """'14:02' today, 'Mon 30 Nov 14:02' on another day (both in ``zone``)."""
    if moment.astimezone(zone).date() == now.astimezone(zone).date():
        return clock_time(moment, zone)
    return f"{day(moment, zone)} {clock_time(moment, zone)}"


def failing_text(source: SourceInfo, since: datetime, now: datetime, zone: tzinfo) -> str:
    """'X is not answering (HTTP 503) since 14:02; I keep trying'."""
    reason = source.last_error.reason if source.last_error else "Renewal is failing"
    return f"{escape(reason)} since {moment_since(since, now, zone)}; {KEEP_TRYING}"


def failing_blocks(source: SourceInfo, since: datetime, now: datetime, zone: tzinfo) -> Block:
    """A source whose renewal keeps failing: what fails since when, and Reconnect."""
    return section(
        f"{STATUS_ICONS[source.status]} *{escape(source.label)}* — "
        f"{failing_text(source, since, now, zone)}",
        reconnect_button(source),
    )


def attention_texts(attention: Attention, zone: tzinfo) -> list[str]:
    """'<@U1> is on it', 'snoozed by <@U2> until Tue 1 Dec 08:00'."""
    texts = []
    if attention.claimed_by:
        texts.append(f":raising_hand: {mention(attention.claimed_by)} is on it")
    if attention.snoozed_by and attention.snoozed_until:
        until = attention.snoozed_until
        texts.append(
            f":zzz: snoozed by {mention(attention.snoozed_by)} until "
            f"{day(until, zone)} {clock_time(until, zone)}"
        )
    return texts


def workflow_actions(source: SourceInfo, attention: Attention) -> Block:
    """ "I'll take it" and, when it may be snoozed, "Remind me" with its choices."""
    elements: list[dict[str, Any]] = [button(TAKE_IT, ids.CLAIM_SOURCE, value=str(source.id))]
    if attention.choices:
        elements.append(
            {
                "type": "static_select",
                "action_id": ids.SNOOZE_SOURCE,
                "placeholder": plain(REMIND_ME, 150),
                "options": [
                    {"text": plain(choice.label, 75), "value": f"{source.id}:{choice.key}"}
                    for choice in attention.choices
                ],
            }
        )
    return actions(*elements)


def recovered_reply(source: SourceInfo, now: datetime, zone: tzinfo) -> Message:
    text = (
        f"{escape(source.label)} recovered by itself at {clock_time(now, zone)}: renewal works "
        "again. Nothing to do."
    )
    return Message(text=text, blocks=[section(f":white_check_mark: {text}")])


def claim_reminder(source: SourceInfo, claimed_at: datetime, now: datetime) -> Message:
    """The DM to whoever took a source on, when it still needs a person."""
    hours = max(int((now - claimed_at).total_seconds() // 3600), 1)
    ago = f"{hours} hour{'s' if hours != 1 else ''} ago"
    text = (
        f"You took on *{escape(source.label)}* {ago}, and it still needs a person. "
        "Reconnect it now, or let your team know in the notice's thread."
    )
    return Message(
        text=f"Reminder: {escape(source.label)} still needs reconnecting",
        blocks=[section(f":wave: {text}", reconnect_button(source))],
    )


def escalation_reply(
    source: SourceInfo,
    hours: int,
    connected_by: str | None,
    claimed_by: str | None,
    admins: Sequence[str] = (),
    group: str | None = None,
) -> Message:
    """The one escalation of an episode: who connected the source last, who said they'd take
    it, and the workspace's escalation target: a user group, or its admins (by name, or in
    words when Slack named none)."""
    lines = [
        f":rotating_light: *{escape(source.label)}* has needed reconnecting for {hours} "
        f"hour{'s' if hours != 1 else ''}, and its imports have stopped."
    ]
    if connected_by:
        lines.append(f"{mention(connected_by)} connected it last.")
    if claimed_by:
        lines.append(f"{mention(claimed_by)} said they'd take it.")
    if group and USER_GROUP.match(group):
        who = f"<!subteam^{group}>"
    elif admins:
        who = " ".join(mention(admin) for admin in admins[:MAX_MENTIONS])
    else:
        who = "Workspace admins"
    lines.append(f"{who}: please make sure someone reconnects it.")
    return Message(
        text=f"Escalated: {escape(source.label)} still needs reconnecting",
        blocks=[section(" ".join(lines))],
    )
