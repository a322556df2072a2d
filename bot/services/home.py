"""The App Home tab, rebuilt from the database each time a person opens it."""

from __future__ import annotations

from bot.blocks.home import HomeSettings, home_view
from bot.services.context import Context
from bot.services.sources import SourceService
from bot.services.workspaces import WorkspaceService


class HomeService:
    def __init__(self, ctx: Context, sources: SourceService, workspaces: WorkspaceService) -> None:
        self.ctx = ctx
        self.sources = sources
        self.workspaces = workspaces

    async def publish(self, team_id: str, user_id: str) -> None:
        workspace = await self.workspaces.ensure(team_id)
        sources = await self.sources.list(team_id)
        settings = HomeSettings(
            notify_channel=self.workspaces.notify_channel(workspace),
            digest_hour=self.workspaces.digest_hour(workspace),
            digest_timezone=self.workspaces.digest_timezone(workspace),
        )
        view = home_view(sources, list(self.ctx.catalogue), settings, self.ctx.clock.now())
        await self.ctx.slack.publish_home(user_id, view)
