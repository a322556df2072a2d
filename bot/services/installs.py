"""Installs and uninstalls: what a workspace's arrival, departure and return change.

An uninstall (``app_uninstalled`` or ``tokens_revoked``, in either order, each possibly
retried) stops everything for the workspace at once: it is marked uninstalled, its pending
Slack sends fail with a reason that says so, and scans, notices and digests skip it. Its data
stays for UNINSTALL_RETENTION_DAYS; an install within that time brings everything back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import outbox
from bot.services.context import Context
from bot.services.workspaces import WorkspaceService
from bot.slack_api import SlackGateway, SlackUnavailable
from bot.store.db import OUTBOX_ENQUEUED
from bot.store.models import Notice, OutboxMessage, Workspace

log = logging.getLogger(__name__)

UNINSTALLED_REASON = "the app was uninstalled from this workspace"
SLACK_KINDS = (
    outbox.NOTICE_POST,
    outbox.NOTICE_UPDATE,
    outbox.THREAD_REPLY,
    outbox.MESSAGE,
    outbox.DIGEST,
)
# What is still worth sending after a re-install: the notices (they render what is true at
# send time) and what belongs in their threads; a past day's digest and old DMs are not.
RESUMED_KINDS = (outbox.NOTICE_POST, outbox.NOTICE_UPDATE, outbox.THREAD_REPLY)


@dataclass(frozen=True)
class Installed:
    """An installation as the install flow saved it."""

    enterprise_id: str | None
    team_id: str | None  # None for an org-wide install
    team_name: str | None
    org_install: bool
    user_id: str | None  # the person who installed it


class InstallService:
    def __init__(self, ctx: Context, workspaces: WorkspaceService) -> None:
        self.ctx = ctx
        self.workspaces = workspaces

    async def installed(self, install: Installed, slack: SlackGateway) -> list[str]:
        """Record an install (or a return); ``slack`` has the new token. Returns the
        workspaces it serves (for an org-wide install: those of the org known so far)."""
        if install.team_id is not None and not install.org_install:
            await self.workspaces.ensure(install.team_id, install.team_name, install.enterprise_id)
        now = self.ctx.clock.now()
        zone = await self._installer_zone(slack, install.user_id)
        async with self.ctx.db.begin() as session:
            workspaces = (await session.scalars(self._matching(install))).all()
            for workspace in workspaces:
                returning = workspace.uninstalled_at is not None
                workspace.enterprise_id = install.enterprise_id
                workspace.org_install = install.org_install
                workspace.installed_at = now
                workspace.installed_by = install.user_id
                workspace.uninstalled_at = None
                if install.team_name and not install.org_install:
                    workspace.name = install.team_name
                if workspace.digest_timezone is None and zone:
                    workspace.digest_timezone = zone  # the installing person's, by default
                if returning:
                    await self._resume(session, workspace.id, now)
                    log.info("workspace %s installed the app again", workspace.id)
            return [workspace.id for workspace in workspaces]

    async def uninstalled(
        self,
        enterprise_id: str | None,
        team_id: str | None,
        org_install: bool,
        bot_only: bool = False,
    ) -> list[str]:
        """Stop everything for the workspace (every workspace of the org, for an org-wide
        install) and forget its revoked tokens; idempotent. ``bot_only``: tokens_revoked
        named the bot's token (user tokens alone change nothing). Returns the workspaces
        newly marked."""
        await self.ctx.slack_clients.forget(
            enterprise_id, None if org_install else team_id, bot_only
        )
        now = self.ctx.clock.now()
        install = Installed(enterprise_id, team_id, None, org_install, None)
        async with self.ctx.db.begin() as session:
            workspaces = (
                await session.scalars(
                    self._matching(install).where(Workspace.uninstalled_at.is_(None))
                )
            ).all()
            for workspace in workspaces:
                workspace.uninstalled_at = now
                await session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.workspace_id == workspace.id,
                        OutboxMessage.status == outbox.PENDING,
                        OutboxMessage.kind.in_(SLACK_KINDS),
                    )
                    .values(
                        status=outbox.FAILED,
                        last_error=UNINSTALLED_REASON,
                        lease_owner=None,
                        lease_until=None,
                    )
                )
            marked = [workspace.id for workspace in workspaces]
        if marked:
            log.info("app uninstalled from %s: posts and scans stop", ", ".join(marked))
        return marked

    def _matching(self, install: Installed) -> Select[Workspace]:
        if install.org_install or install.team_id is None:
            return select(Workspace).where(
                Workspace.enterprise_id == install.enterprise_id, Workspace.org_install.is_(True)
            )
        return select(Workspace).where(Workspace.id == install.team_id)

    async def _resume(self, session: AsyncSession, workspace_id: str, now: datetime) -> None:
        """Send again what the uninstall stopped and is still worth sending."""
        stopped = (
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.workspace_id == workspace_id,
                    OutboxMessage.status == outbox.FAILED,
                    OutboxMessage.last_error == UNINSTALLED_REASON,
                )
            )
        ).all()
        for row in stopped:
            if row.kind in RESUMED_KINDS and not await self._resolved_unposted(session, row):
                row.status, row.next_attempt_at, row.attempts = outbox.PENDING, now, 0
                row.created_at, row.last_error = now, None
                session.info[OUTBOX_ENQUEUED] = True
            else:
                row.status = outbox.DROPPED

    async def _resolved_unposted(self, session: AsyncSession, row: OutboxMessage) -> bool:
        """A notice that everyone fixed while the app was away needs no first post."""
        if row.kind != outbox.NOTICE_POST:
            return False
        notice = await session.get(Notice, row.payload["notice_id"])
        return notice is None or notice.resolved_at is not None

    async def _installer_zone(self, slack: SlackGateway, user_id: str | None) -> str | None:
        if not user_id:
            return None
        try:
            return (await slack.user(user_id)).tz
        except SlackUnavailable as err:
            log.warning("could not read the installing person's time zone: %s", err.reason)
            return None
