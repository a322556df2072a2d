"""The App Home tab, rebuilt from the database each time a person opens it."""

from __future__ import annotations

import logging

from bot.blocks.home import MAX_HOME_BLOCKS, HomeSettings, home_view
from bot.delivery import outbox
from bot.domain import WEEKDAYS, DeliveryProblem
from bot.services.context import Context
from bot.services.sources import SourceService
from bot.services.workspaces import WorkspaceService
from bot.slack_api import SlackGateway

log = logging.getLogger(__name__)

# What a failed row was, as the App Home names it.
WHAT = {
    outbox.NOTICE_POST: "Notices",
    outbox.NOTICE_UPDATE: "Notices",
    outbox.THREAD_REPLY: "Notices",
    outbox.DIGEST: "The daily digest",
    outbox.MESSAGE: "Messages",
}


class HomeService:
    def __init__(self, ctx: Context, sources: SourceService, workspaces: WorkspaceService) -> None:
        self.ctx = ctx
        self.sources = sources
        self.workspaces = workspaces

    async def publish(self, team_id: str, user_id: str, slack: SlackGateway) -> None:
        """Publish ``user_id``'s App Home, with ``slack``: the client of the request that
        asked (its workspace's token)."""
        workspace = await self.workspaces.ensure(team_id)
        sources = await self.sources.listing(team_id, MAX_HOME_BLOCKS)
        chosen = self.workspaces.settings(workspace)
        settings = HomeSettings(
            notify_channel=chosen.notify_channel,
            digest_hour=chosen.digest_hour,
            digest_timezone=chosen.digest_timezone,
            weekdays_only=chosen.digest_days == WEEKDAYS,
            warning_days=chosen.warning_days,
            network_channels={
                self.ctx.catalogue.title(network): channel
                for network, channel in chosen.network_channels.items()
            },
        )
        view = home_view(
            sources,
            list(self.ctx.catalogue),
            settings,
            self.ctx.clock.now(),
            await self.problems(team_id),
        )
        await slack.publish_home(user_id, view)

    async def problems(self, team_id: str) -> list[DeliveryProblem]:
        """What the outbox gave up on, one line per place and reason."""
        merged: dict[tuple[str | None, str], DeliveryProblem] = {}
        for problem in await self.ctx.outbox.problems(team_id):
            what = WHAT.get(problem.kind, "Messages")
            key = (problem.target, problem.error)
            earlier = merged.get(key)
            if earlier is not None:  # notices and their replies in one channel: one line
                what = earlier.what if earlier.what == "Notices" else what
                count = earlier.count + problem.count
            else:
                count = problem.count
            merged[key] = DeliveryProblem(what, problem.target, problem.error, count)
        return list(merged.values())

    async def retry_deliveries(self, team_id: str, user_id: str) -> int:
        """The person fixed something (invited the bot, say): try what failed again."""
        retried = await self.ctx.outbox.retry_failed(team_id)
        log.info("%s asked to retry %s failed deliveries in %s", user_id, retried, team_id)
        return retried
