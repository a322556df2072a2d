"""Ids shared between the Block Kit builders, the listeners and manifest.yml."""

from __future__ import annotations

COMMAND = "/sources"

# Buttons and other interactive elements.
RECONNECT_SOURCE = "reconnect_source"  # value: source id
CONNECT_NETWORK = "connect_network"  # value: network name
OPEN_OAUTH_LINK = "open_oauth_link"  # url button; Slack still sends an action to ack
SET_NOTIFY_CHANNEL = "set_notify_channel"  # conversations_select on the App Home
RETRY_DELIVERIES = "retry_deliveries"  # App Home: try failed deliveries again
OPEN_SETTINGS = "open_settings"  # App Home: the Settings button
CLAIM_SOURCE = "claim_source"  # a notice's "I'll take it"; value: source id
SNOOZE_SOURCE = "snooze_source"  # a notice's "Remind me" select; option value: "{id}:{choice}"

# Modals (callback ids).
SETTINGS_VIEW = "settings"  # the settings modal; its submission is checked field by field

# Events the manifest subscribes to.
APP_HOME_OPENED = "app_home_opened"
APP_UNINSTALLED = "app_uninstalled"
TOKENS_REVOKED = "tokens_revoked"

EVENTS = (APP_HOME_OPENED, APP_UNINSTALLED, TOKENS_REVOKED)

# The settings modal's fields: block id and action id alike; a field error names its block.
NOTIFY_CHANNEL = "notify_channel"
DIGEST_HOUR = "digest_hour"
DIGEST_TIMEZONE = "digest_timezone"
DIGEST_DAYS_FIELD = "digest_days"
WARNING_DAYS = "warning_days"
FAILURE_BUDGET = "failure_budget"
CONNECT_ROLE = "connect_role"
CONNECT_GROUP = "connect_group"
SETTINGS_ROLE = "settings_role"
SETTINGS_GROUP = "settings_group"
WARN_AFTER = "warn_after"
CLAIM_REMIND = "claim_remind"
MAX_SNOOZE = "max_snooze"
ESCALATE_AFTER = "escalate_after"
ESCALATION_TARGET = "escalation_target"
ESCALATION_GROUP = "escalation_group"
NETWORK_CHANNEL_PREFIX = "channel:"


def network_field(network: str) -> str:
    """The field of the channel for one network's notices."""
    return f"{NETWORK_CHANNEL_PREFIX}{network}"
