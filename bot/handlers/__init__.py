"""Bolt listeners, wired explicitly: each module's ``register(app, services, limit)``."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.handlers import actions, commands, errors, events, oncall, views
from bot.handlers.limit import WorkLimit
from bot.services import Services


def register(app: AsyncApp, services: Services, limit: WorkLimit) -> None:
    """``limit`` bounds the work every listener does after its ack."""
    errors.register(app, services)
    commands.register(app, services, limit)
    actions.register(app, services, limit)
    oncall.register(app, services, limit)
    views.register(app, services, limit)
    events.register(app, services, limit)
