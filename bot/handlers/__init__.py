"""Bolt listeners, wired explicitly: each module's ``register(app, services)``."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.handlers import actions, commands, errors, events, views
from bot.services import Services


def register(app: AsyncApp, services: Services) -> None:
    errors.register(app, services)
    commands.register(app, services)
    actions.register(app, services)
    views.register(app, services)
    events.register(app, services)
