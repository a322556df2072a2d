"""Ids shared between the Block Kit builders, the listeners and manifest.yml."""

from __future__ import annotations

COMMAND = "/sources"

# Buttons and other interactive elements.
RECONNECT_SOURCE = "reconnect_source"  # value: source id
CONNECT_NETWORK = "connect_network"  # value: network name
OPEN_OAUTH_LINK = "open_oauth_link"  # url button; Slack still sends an action to ack
SET_NOTIFY_CHANNEL = "set_notify_channel"  # conversations_select on the App Home
RETRY_DELIVERIES = "retry_deliveries"  # App Home: try failed deliveries again

# Events the manifest subscribes to.
APP_HOME_OPENED = "app_home_opened"

EVENTS = (APP_HOME_OPENED,)
