"""The settings modal's service: what it offers, and saving what a person chose in it.

Who may change settings is checked when the modal opens and again when it is submitted.
Every channel is checked before anything is saved: the bot joins a public channel by itself
(``conversations.join``); a private one it is not in is refused with what to do about it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot import ids
from bot.blocks.settings import settings_modal
from bot.blocks.texts import (
    CHANNEL_ARCHIVED,
    CHANNEL_CHECK_FAILED,
    CHANNEL_JOIN_FAILED,
    CHANNEL_PRIVATE,
    CHANNEL_UNSEEN,
)
from bot.services.context import Context
from bot.services.roles import Action, RoleService
from bot.services.workspace_settings import validate
from bot.services.workspaces import WorkspaceService
from bot.slack_api import SlackGateway, SlackUnavailable

log = logging.getLogger(__name__)


class SettingsService:
    def __init__(self, ctx: Context, workspaces: WorkspaceService, roles: RoleService) -> None:
        self.ctx = ctx
        self.workspaces = workspaces
        self.roles = roles

    async def modal(self, team_id: str, user_id: str, slack: SlackGateway) -> dict[str, Any]:
        """The modal for ``user_id``; NotAllowed if they may not change settings."""
        await self.roles.require(team_id, user_id, Action.CHANGE_SETTINGS)
        current = await self.workspaces.settings_of(team_id)
        try:
            groups = await slack.user_groups()
        except SlackUnavailable as err:  # a workspace on a plan without user groups, say
            log.info("user groups unavailable in %s: %s", team_id, err.reason)
            groups = []
        networks = [
            (network.name, network.title)
            for network in self.ctx.catalogue
            if network.configured or network.name in current.network_channels
        ]
        return settings_modal(current, networks, groups)

    async def submit(
        self,
        team_id: str,
        user_id: str,
        values: Mapping[str, str | None],
        slack: SlackGateway,
    ) -> dict[str, str]:
        """Check and save; {} when saved, else {field: what is wrong} and nothing changed."""
        await self.roles.require(team_id, user_id, Action.CHANGE_SETTINGS)
        chosen, errors = validate(values, await self.workspaces.settings_of(team_id))
        if chosen is None:
            return errors
        fields = {ids.NOTIFY_CHANNEL: chosen.notify_channel} | {
            ids.network_field(name): channel for name, channel in chosen.network_channels.items()
        }
        for field, channel in fields.items():
            assert channel is not None
            problem = await self.check_channel(slack, channel)
            if problem:
                errors[field] = problem
        if errors:
            return errors
        await self.workspaces.save(team_id, chosen)
        log.info("%s changed the settings of %s", user_id, team_id)
        return {}

    async def set_notify_channel(
        self, team_id: str, user_id: str, channel: str, slack: SlackGateway
    ) -> str | None:
        """The App Home's channel select: None when saved, else why the channel can't be."""
        await self.roles.require(team_id, user_id, Action.CHANGE_SETTINGS)
        problem = await self.check_channel(slack, channel)
        if problem is None:
            await self.workspaces.set_notify_channel(team_id, channel)
        return problem

    async def check_channel(self, slack: SlackGateway, channel_id: str) -> str | None:
        """None when the bot can post in the channel (joining it if public), else why not."""
        try:
            channel = await slack.channel(channel_id)
        except SlackUnavailable as err:
            if err.reason == "channel_not_found":
                return CHANNEL_UNSEEN
            return CHANNEL_CHECK_FAILED.format(reason=err.reason)
        if channel.archived:
            return CHANNEL_ARCHIVED
        if channel.member:
            return None
        if channel.private:
            return CHANNEL_PRIVATE
        try:
            await slack.join(channel_id)
        except SlackUnavailable as err:
            return CHANNEL_JOIN_FAILED.format(reason=err.reason)
        return None
