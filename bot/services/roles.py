"""Who may do what in a workspace: the one rule every listener asks, on the server.

Each action is governed by one of the workspace's two role settings: who may connect (and
reconnect) sources, and who may change settings. A setting is everyone, workspace admins and
owners, or those and the members of a user group. Admin status and group membership come
from Slack (``users.info``, ``usergroups.users.list``) and are kept in the database for at
most :data:`FRESH_FOR`, so a click does not always ask Slack and every replica sees the same.

Adding an action is one line in :data:`RULES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.blocks.texts import ONLY_ADMINS, ONLY_ADMINS_AND_GROUP
from bot.domain import EVERYONE, GROUP
from bot.services.context import Context
from bot.services.workspaces import WorkspaceService
from bot.slack_api import SlackUnavailable
from bot.store.models import RoleFact

FRESH_FOR = timedelta(minutes=10)
USER = "user"
GROUP_FACT = "group"


class Action(StrEnum):
    CONNECT = "connect"
    RECONNECT = "reconnect"
    RETRY_DELIVERIES = "retry_deliveries"
    CHANGE_SETTINGS = "change_settings"
    CLAIM = "claim"
    SNOOZE = "snooze"


@dataclass(frozen=True)
class Rule:
    governed_by: str  # "connect" or "settings": the role setting that decides
    verb: str  # completes "Only ... can {verb} here."


RULES: dict[Action, Rule] = {
    Action.CONNECT: Rule("connect", "connect sources"),
    Action.RECONNECT: Rule("connect", "reconnect sources"),
    Action.RETRY_DELIVERIES: Rule("connect", "retry failed deliveries"),
    Action.CHANGE_SETTINGS: Rule("settings", "change settings"),
    # Whoever may reconnect a source may take it on (or over) and snooze it.
    Action.CLAIM: Rule("connect", "take sources on"),
    Action.SNOOZE: Rule("connect", "snooze notices"),
}


class NotAllowed(Exception):
    """The person may not; the message names who can, for an ephemeral answer."""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    who_can: str = ""  # the sentence for a refusal


def who_can(role: str, group: str | None, verb: str) -> str:
    if role == GROUP and group:
        return ONLY_ADMINS_AND_GROUP.format(group=f"<!subteam^{group}>", verb=verb)
    return ONLY_ADMINS.format(verb=verb)


class RoleService:
    def __init__(self, ctx: Context, workspaces: WorkspaceService) -> None:
        self.ctx = ctx
        self.workspaces = workspaces

    async def may(self, workspace_id: str, user_id: str, action: Action) -> Verdict:
        rule = RULES[action]
        role, group = (await self.workspaces.settings_of(workspace_id)).role(rule.governed_by)
        if role == EVERYONE:
            return Verdict(True)
        if await self._admin(workspace_id, user_id):
            return Verdict(True)
        if role == GROUP and group and user_id in await self._members(workspace_id, group):
            return Verdict(True)
        return Verdict(False, who_can(role, group, rule.verb))

    async def require(self, workspace_id: str, user_id: str, action: Action) -> None:
        """NotAllowed, naming who can, unless ``user_id`` may do ``action``."""
        verdict = await self.may(workspace_id, user_id, action)
        if not verdict.allowed:
            raise NotAllowed(verdict.who_can)

    async def _admin(self, workspace_id: str, user_id: str) -> bool:
        async def ask() -> dict[str, Any]:
            slack = await self.ctx.slack_clients.for_workspace(workspace_id)
            try:
                return {"admin": (await slack.user(user_id)).admin}
            except SlackUnavailable as err:
                if err.reason != "user_not_found":  # someone from another org, say
                    raise
                return {"admin": False}

        return bool((await self._fact(workspace_id, USER, user_id, ask))["admin"])

    async def _members(self, workspace_id: str, group: str) -> set[str]:
        async def ask() -> dict[str, Any]:
            slack = await self.ctx.slack_clients.for_workspace(workspace_id)
            try:
                return {"members": await slack.group_members(group)}
            except SlackUnavailable as err:
                if err.reason != "no_such_subteam":  # the group was deleted
                    raise
                return {"members": []}

        return set((await self._fact(workspace_id, GROUP_FACT, group, ask))["members"])

    async def _fact(self, workspace_id: str, kind: str, key: str, ask: Any) -> dict[str, Any]:
        """What Slack said about ``key``, asked again when older than FRESH_FOR."""
        now = self.ctx.clock.now()
        where = RoleFact.workspace_id == workspace_id, RoleFact.kind == kind, RoleFact.key == key
        async with self.ctx.read() as session:
            known = await session.scalar(select(RoleFact).where(*where))
        if known is not None and now - known.fetched_at < FRESH_FOR:
            return known.value
        value: dict[str, Any] = await ask()
        await self.workspaces.ensure(workspace_id)
        async with self.ctx.db() as session:
            row = await session.scalar(select(RoleFact).where(*where))
            if row is None:
                session.add(
                    RoleFact(
                        workspace_id=workspace_id, kind=kind, key=key, value=value, fetched_at=now
                    )
                )
            else:
                row.value, row.fetched_at = value, now
            try:
                await session.commit()
            except IntegrityError:  # a concurrent click stored it first; ours is as fresh
                await session.rollback()
        return value
