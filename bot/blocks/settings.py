"""The settings modal, and reading back what a person chose in it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot import ids
from bot.blocks import Block
from bot.blocks.base import context, plain
from bot.config import format_duration
from bot.domain import ADMINS, DAILY, EVERYONE, GROUP, WEEKDAYS, UserGroup, WorkspaceSettings

MAX_OPTIONS = 100
TITLE = "Settings"
CHANNEL_HINT = (
    "I join a public channel by myself. For a private one, invite me first with "
    "/invite @sources-bot."
)
ROLE_WORDS = {
    EVERYONE: "Everyone",
    ADMINS: "Workspace admins and owners",
    GROUP: "Admins, owners and a user group",
}
ESCALATION_WORDS = {ADMINS: "Workspace admins and owners", GROUP: "A user group"}
DAY_WORDS = {DAILY: "Every day", WEEKDAYS: "Weekdays (Monday to Friday)"}


def settings_modal(
    current: WorkspaceSettings,
    networks: Sequence[tuple[str, str]],
    groups: Sequence[UserGroup],
) -> dict[str, Any]:
    """The modal, filled with the settings in force. ``networks`` are (name, title) of the
    networks that may have a channel of their own; ``groups`` the workspace's user groups."""
    blocks: list[Block] = [
        _channel(ids.NOTIFY_CHANNEL, "Notices and the daily digest go to", current.notify_channel),
    ]
    for name, title in networks:
        blocks.append(
            _channel(
                ids.network_field(name),
                f"{title} notices go to",
                current.network_channels.get(name),
                optional=True,
                hint=f"Leave empty to post {title} notices with the others.",
            )
        )
    blocks.extend(
        [
            _input(
                ids.DIGEST_HOUR,
                "Daily digest at",
                _static(
                    ids.DIGEST_HOUR,
                    [(f"{hour:02d}:00", str(hour)) for hour in range(24)],
                    str(current.digest_hour),
                ),
            ),
            _input(
                ids.DIGEST_TIMEZONE,
                "Time zone of the digest",
                _text(ids.DIGEST_TIMEZONE, current.digest_timezone, "e.g. Europe/Paris"),
            ),
            _input(
                ids.DIGEST_DAYS_FIELD,
                "Digest days",
                _radio(ids.DIGEST_DAYS_FIELD, list(DAY_WORDS.items()), current.digest_days),
            ),
            _input(
                ids.WARNING_DAYS,
                "Warn this many days before a source expires",
                _text(ids.WARNING_DAYS, ",".join(map(str, current.warning_days)), "e.g. 7,1"),
                hint="Comma-separated whole days. A source within the largest counts as "
                "expiring soon everywhere: /sources, the App Home, notices and the digest.",
            ),
            _input(
                ids.FAILURE_BUDGET,
                "Renewal failure budget (hours)",
                _text(ids.FAILURE_BUDGET, str(current.budget_hours), "e.g. 24"),
                hint="How long renewals may keep failing for passing reasons (a network down) "
                "before the source counts as expired.",
            ),
        ]
    )
    blocks.extend(_workflow_blocks(current, groups))
    blocks.extend(
        _role_blocks(
            ids.CONNECT_ROLE,
            ids.CONNECT_GROUP,
            "Who may connect and reconnect sources",
            (EVERYONE, ADMINS, GROUP),
            current.connect_role,
            current.connect_group,
            groups,
        )
    )
    blocks.extend(
        _role_blocks(
            ids.SETTINGS_ROLE,
            ids.SETTINGS_GROUP,
            "Who may change these settings",
            (ADMINS, GROUP),
            current.settings_role,
            current.settings_group,
            groups,
        )
    )
    return {
        "type": "modal",
        "callback_id": ids.SETTINGS_VIEW,
        "title": plain(TITLE, 24),
        "submit": plain("Save", 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    }


def form_values(state_values: Mapping[str, Any]) -> dict[str, str | None]:
    """{field: chosen value} from a view_submission's ``view.state.values``."""
    chosen: dict[str, str | None] = {}
    for block_id, elements in state_values.items():
        for element in elements.values():
            kind = element.get("type")
            if kind == "conversations_select":
                chosen[block_id] = element.get("selected_conversation")
            elif kind in ("static_select", "radio_buttons"):
                option = element.get("selected_option") or {}
                chosen[block_id] = option.get("value")
            else:
                chosen[block_id] = element.get("value")
    return chosen


def _workflow_blocks(current: WorkspaceSettings, groups: Sequence[UserGroup]) -> list[Block]:
    """The team workflow: quiet on blips, claims, snoozes, escalation."""
    blocks = [
        _input(
            ids.WARN_AFTER,
            "Post about failing renewals after",
            _text(ids.WARN_AFTER, format_duration(current.renewal_warn_after), "e.g. 1h or 30m"),
            hint="Renewals that fail for passing reasons (a network down for a while) are "
            "shown in /sources at once, and posted only once they have failed this long.",
        ),
        _input(
            ids.CLAIM_REMIND,
            "Remind whoever takes a source on after (hours)",
            _text(ids.CLAIM_REMIND, str(current.claim_remind_hours), "e.g. 4"),
            hint="A DM to the person who clicked “I'll take it”, if the source still needs "
            "a person by then.",
        ),
        _input(
            ids.MAX_SNOOZE,
            "Longest snooze of a source that stopped working (days)",
            _text(ids.MAX_SNOOZE, str(current.max_snooze_days), "e.g. 3"),
            hint="Its imports have stopped, so it can't be put off for long. 0: no snoozing.",
        ),
        _input(
            ids.ESCALATE_AFTER,
            "Escalate a source still stopped after (hours)",
            _text(ids.ESCALATE_AFTER, str(current.escalate_after_hours), "e.g. 24"),
            hint="Counted from its notice; one reply in the notice's thread.",
        ),
    ]
    offered = [t for t in (ADMINS, GROUP) if t != GROUP or groups]
    blocks.append(
        _input(
            ids.ESCALATION_TARGET,
            "Escalate to",
            _radio(
                ids.ESCALATION_TARGET,
                [(t, ESCALATION_WORDS[t]) for t in offered],
                current.escalation_target,
            ),
            hint="Along with the person who last connected the source.",
        )
    )
    if groups:
        options = [(f"@{g.handle}" if g.handle else g.name, g.id) for g in groups]
        blocks.append(
            _input(
                ids.ESCALATION_GROUP,
                "The user group to escalate to",
                _static(ids.ESCALATION_GROUP, options[:MAX_OPTIONS], current.escalation_group),
                optional=True,
                hint="Used when escalating to a user group.",
            )
        )
    return blocks


def _role_blocks(
    role_field: str,
    group_field: str,
    label: str,
    roles: Sequence[str],
    role: str,
    group: str | None,
    groups: Sequence[UserGroup],
) -> list[Block]:
    offered = [r for r in roles if r != GROUP or groups]
    blocks = [
        _input(role_field, label, _radio(role_field, [(r, ROLE_WORDS[r]) for r in offered], role))
    ]
    if groups:
        options = [(f"@{g.handle}" if g.handle else g.name, g.id) for g in groups]
        blocks.append(
            _input(
                group_field,
                "The user group",
                _static(group_field, options[:MAX_OPTIONS], group),
                optional=True,
                hint="Used when the option above includes a user group.",
            )
        )
    else:
        blocks.append(context("This workspace has no user groups, so none can be chosen."))
    return blocks


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str | None = None,
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, 2000),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def _channel(
    field: str,
    label: str,
    channel: str | None,
    *,
    optional: bool = False,
    hint: str = CHANNEL_HINT,
) -> Block:
    element: dict[str, Any] = {
        "type": "conversations_select",
        "action_id": field,
        "placeholder": plain("Choose a channel", 150),
        "filter": {
            "include": ["public", "private"],
            "exclude_bot_users": True,
            "exclude_external_shared_channels": True,
        },
    }
    if channel:
        element["initial_conversation"] = channel
    return _input(field, label, element, optional=optional, hint=hint)


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, 75), "value": value}


def _static(action_id: str, options: Sequence[tuple[str, str]], selected: str | None) -> Block:
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": plain("Choose", 150),
        "options": [_option(text, value) for text, value in options],
    }
    initial = next((_option(t, v) for t, v in options if v == selected), None)
    if initial is not None:
        element["initial_option"] = initial
    return element


def _radio(action_id: str, options: Sequence[tuple[str, str]], selected: str) -> Block:
    element: dict[str, Any] = {
        "type": "radio_buttons",
        "action_id": action_id,
        "options": [_option(text, value) for value, text in options],
    }
    initial = next((_option(t, v) for v, t in options if v == selected), None)
    if initial is not None:
        element["initial_option"] = initial
    return element


def _text(action_id: str, value: str, placeholder: str) -> Block:
    return {
        "type": "plain_text_input",
        "action_id": action_id,
        "initial_value": value,
        "placeholder": plain(placeholder, 150),
    }
