"""A workspace's settings: the environment gives the defaults, the workspace's choices win.

:func:`resolve` is the one place that merges them; :func:`validate` checks what a person
typed in the settings modal, field by field, with sentences to show beside each field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config import (
    MAX_CLAIM_REMIND_HOURS,
    MAX_ESCALATE_HOURS,
    MAX_SNOOZE_DAYS,
    MAX_WARN_AFTER,
    Settings,
    parse_duration,
)
from bot.domain import (
    ADMINS,
    CONNECT_ROLES,
    DAILY,
    DIGEST_DAYS,
    ESCALATION_TARGETS,
    EVERYONE,
    GROUP,
    SETTINGS_ROLES,
    WorkspaceSettings,
)
from bot.ids import (
    CLAIM_REMIND,
    CONNECT_GROUP,
    CONNECT_ROLE,
    DIGEST_DAYS_FIELD,
    DIGEST_HOUR,
    DIGEST_TIMEZONE,
    ESCALATE_AFTER,
    ESCALATION_GROUP,
    ESCALATION_TARGET,
    FAILURE_BUDGET,
    MAX_SNOOZE,
    NETWORK_CHANNEL_PREFIX,
    NOTIFY_CHANNEL,
    SETTINGS_GROUP,
    SETTINGS_ROLE,
    WARN_AFTER,
    WARNING_DAYS,
)
from bot.store.models import Workspace

MAX_WARNING_DAYS = 90
MAX_WARNINGS = 5
MAX_BUDGET_HOURS = 24 * 14


def resolve(workspace: Workspace | None, defaults: Settings) -> WorkspaceSettings:
    """The settings in force: the workspace's own, else the environment's defaults."""
    if workspace is None:
        return WorkspaceSettings(
            notify_channel=defaults.slack_notify_channel,
            digest_hour=defaults.digest_hour,
            digest_timezone=defaults.digest_timezone,
            warning_days=defaults.expiry_warning_days,
            renewal_failure_budget=defaults.renewal_failure_budget,
            renewal_warn_after=defaults.renewal_warn_after,
            claim_remind_hours=defaults.claim_remind_hours,
            max_snooze_days=defaults.max_snooze_days,
            escalate_after_hours=defaults.escalate_after_hours,
        )
    w = workspace
    budget = defaults.renewal_failure_budget
    if w.renewal_failure_budget_hours:
        budget = timedelta(hours=w.renewal_failure_budget_hours)
    warn_after = defaults.renewal_warn_after
    if w.renewal_warn_after_minutes is not None:
        warn_after = timedelta(minutes=w.renewal_warn_after_minutes)
    return WorkspaceSettings(
        notify_channel=w.notify_channel or defaults.slack_notify_channel,
        network_channels=dict(w.network_channels or {}),
        digest_hour=defaults.digest_hour if w.digest_hour is None else w.digest_hour,
        digest_timezone=w.digest_timezone or defaults.digest_timezone,
        digest_days=w.digest_days or DAILY,
        warning_days=tuple(w.warning_days) if w.warning_days else defaults.expiry_warning_days,
        renewal_failure_budget=budget,
        connect_role=w.connect_role or EVERYONE,
        connect_group=w.connect_group,
        settings_role=w.settings_role or ADMINS,
        settings_group=w.settings_group,
        renewal_warn_after=warn_after,
        claim_remind_hours=_or(w.claim_remind_hours, defaults.claim_remind_hours),
        max_snooze_days=_or(w.max_snooze_days, defaults.max_snooze_days),
        escalate_after_hours=_or(w.escalate_after_hours, defaults.escalate_after_hours),
        escalation_target=w.escalation_target or ADMINS,
        escalation_group=w.escalation_group,
    )


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def store(workspace: Workspace, chosen: WorkspaceSettings) -> None:
    """Write ``chosen`` onto the workspace: from now on they win over the environment."""
    workspace.notify_channel = chosen.notify_channel
    workspace.network_channels = dict(chosen.network_channels) or None
    workspace.digest_hour = chosen.digest_hour
    workspace.digest_timezone = chosen.digest_timezone
    workspace.digest_days = chosen.digest_days
    workspace.warning_days = list(chosen.warning_days)
    workspace.renewal_failure_budget_hours = chosen.budget_hours
    workspace.connect_role = chosen.connect_role
    workspace.connect_group = chosen.connect_group
    workspace.settings_role = chosen.settings_role
    workspace.settings_group = chosen.settings_group
    workspace.renewal_warn_after_minutes = int(chosen.renewal_warn_after.total_seconds() // 60)
    workspace.claim_remind_hours = chosen.claim_remind_hours
    workspace.max_snooze_days = chosen.max_snooze_days
    workspace.escalate_after_hours = chosen.escalate_after_hours
    workspace.escalation_target = chosen.escalation_target
    workspace.escalation_group = chosen.escalation_group


def validate(
    values: Mapping[str, str | None], current: WorkspaceSettings | None = None
) -> tuple[WorkspaceSettings | None, dict[str, str]]:
    """Check the modal's values: (the settings, {}) or (None, {field: what is wrong}).

    The team workflow's fields keep ``current``'s values when they are left out.
    """
    errors: dict[str, str] = {}
    kept = current or WorkspaceSettings(notify_channel=None)

    def text(name: str) -> str:
        return (values.get(name) or "").strip()

    notify_channel = text(NOTIFY_CHANNEL)
    if not notify_channel:
        errors[NOTIFY_CHANNEL] = "Choose the channel for notices and the digest."
    hour = _whole(text(DIGEST_HOUR))
    if hour is None or not 0 <= hour <= 23:
        errors[DIGEST_HOUR] = "Choose an hour from 00:00 to 23:00."
    zone = text(DIGEST_TIMEZONE)
    if not _known_zone(zone):
        errors[DIGEST_TIMEZONE] = (
            "Type a time zone name such as Europe/Paris, America/New_York or UTC."
        )
    days = text(DIGEST_DAYS_FIELD) or DAILY
    if days not in DIGEST_DAYS:
        errors[DIGEST_DAYS_FIELD] = "Choose every day or weekdays."
    warning_days = _warning_days(text(WARNING_DAYS))
    if warning_days is None:
        errors[WARNING_DAYS] = (
            f"List up to {MAX_WARNINGS} whole numbers of days from 1 to {MAX_WARNING_DAYS}, "
            "separated by commas, e.g. 7,1."
        )
    budget = _whole(text(FAILURE_BUDGET))
    if budget is None or not 1 <= budget <= MAX_BUDGET_HOURS:
        errors[FAILURE_BUDGET] = f"Type a whole number of hours from 1 to {MAX_BUDGET_HOURS}."
    roles: dict[str, tuple[str, str | None]] = {}
    for role_field, group_field, allowed in (
        (CONNECT_ROLE, CONNECT_GROUP, CONNECT_ROLES),
        (SETTINGS_ROLE, SETTINGS_GROUP, SETTINGS_ROLES),
    ):
        role, group = text(role_field), text(group_field) or None
        if role not in allowed:
            errors[role_field] = "Choose who may do this."
        elif role == GROUP and group is None:
            errors[group_field] = "Choose the user group, or another option above."
        roles[role_field] = (role, group if role == GROUP else None)
    warn_after = kept.renewal_warn_after
    if text(WARN_AFTER):
        parsed = parse_duration(text(WARN_AFTER))
        if parsed is None or parsed > MAX_WARN_AFTER:
            errors[WARN_AFTER] = (
                f"Type a duration such as 1h, 30m or 1h30m, at most {MAX_WARN_AFTER.days} days "
                "(0 posts at once)."
            )
        else:
            warn_after = parsed
    workflow = {}
    for name, kept_value, low, high, unit in (
        (CLAIM_REMIND, kept.claim_remind_hours, 1, MAX_CLAIM_REMIND_HOURS, "hours"),
        (MAX_SNOOZE, kept.max_snooze_days, 0, MAX_SNOOZE_DAYS, "days"),
        (ESCALATE_AFTER, kept.escalate_after_hours, 1, MAX_ESCALATE_HOURS, "hours"),
    ):
        number = _whole(text(name)) if text(name) else kept_value
        if number is None or not low <= number <= high:
            errors[name] = f"Type a whole number of {unit} from {low} to {high}."
        workflow[name] = number or 0
    target = text(ESCALATION_TARGET) or kept.escalation_target
    escalation_group = text(ESCALATION_GROUP) or None
    if ESCALATION_TARGET not in values:  # left out: keep the workspace's
        escalation_group = kept.escalation_group
    if target not in ESCALATION_TARGETS:
        errors[ESCALATION_TARGET] = "Choose whom to escalate to."
    elif target == GROUP and escalation_group is None:
        errors[ESCALATION_GROUP] = "Choose the user group, or the admins above."
    network_channels = {
        name[len(NETWORK_CHANNEL_PREFIX) :]: text(name)
        for name in values
        if name.startswith(NETWORK_CHANNEL_PREFIX) and text(name)
    }
    if errors:
        return None, errors
    assert hour is not None and budget is not None and warning_days is not None
    return (
        WorkspaceSettings(
            notify_channel=notify_channel,
            network_channels=network_channels,
            digest_hour=hour,
            digest_timezone=zone,
            digest_days=days,
            warning_days=warning_days,
            renewal_failure_budget=timedelta(hours=budget),
            connect_role=roles[CONNECT_ROLE][0],
            connect_group=roles[CONNECT_ROLE][1],
            settings_role=roles[SETTINGS_ROLE][0],
            settings_group=roles[SETTINGS_ROLE][1],
            renewal_warn_after=warn_after,
            claim_remind_hours=workflow[CLAIM_REMIND],
            max_snooze_days=workflow[MAX_SNOOZE],
            escalate_after_hours=workflow[ESCALATE_AFTER],
            escalation_target=target,
            escalation_group=escalation_group if target == GROUP else None,
        ),
        {},
    )


def _whole(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _known_zone(name: str) -> bool:
    if not name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _warning_days(value: str) -> tuple[int, ...] | None:
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if not parts or len(parts) > MAX_WARNINGS or not all(part.isdigit() for part in parts):
        return None
    days = sorted({int(part) for part in parts}, reverse=True)
    if not all(1 <= day <= MAX_WARNING_DAYS for day in days):
        return None
    return tuple(days)
