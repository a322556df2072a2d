"""`/sources` and its sub-commands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.blocks import Message
from bot.blocks.base import escape
from bot.blocks.connect import connect_link
from bot.blocks.replies import LIST_BLOCKS, help_message, short, sources_list
from bot.blocks.texts import CONNECT_WHICH, UNKNOWN_INPUT
from bot.handlers.limit import WorkLimit
from bot.services import Services
from bot.services.attempts import ConnectRefused
from bot.services.roles import Action, NotAllowed
from bot.slack_api import SlackGateway


@dataclass(frozen=True)
class Parsed:
    """``kind`` is list, expired, network, connect, settings, help or unknown; ``arg`` its
    argument."""

    kind: str
    arg: str = ""


LISTS = ("list", "expired", "network")  # the kinds that answer with a list of sources


def parse(text: str, networks: list[str]) -> Parsed:
    words = text.strip().lower().split()
    if not words:
        return Parsed("list")
    first, rest = words[0], words[1:]
    if first in {"help", "-h", "--help", "?"} and not rest:
        return Parsed("help")
    if first == "expired" and not rest:
        return Parsed("expired")
    if first == "settings" and not rest:
        return Parsed("settings")
    if first == "connect" and len(rest) <= 1:
        return Parsed("connect", rest[0] if rest else "")
    if first in networks and not rest:
        return Parsed("network", first)
    return Parsed("unknown", text.strip())


def register(app: AsyncApp, services: Services, limit: WorkLimit) -> None:
    async def sources_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        parsed = parse(command.get("text", ""), services.ctx.catalogue.names())
        team_id, user_id = command["team_id"], command["user_id"]
        if parsed.kind == "settings":  # a modal, opened with the command's trigger
            slack = SlackGateway(client)
            try:
                view = await services.settings.modal(team_id, user_id, slack)
            except NotAllowed as refused:
                message = short(str(refused))
            else:
                await slack.open_modal(command["trigger_id"], view)
                return
        else:
            message = await answer(parsed, team_id, user_id, command.get("team_domain"))
        await respond(response_type="ephemeral", text=message.text, blocks=message.blocks)

    async def answer(parsed: Parsed, team_id: str, user_id: str, domain: str | None) -> Message:
        now = services.ctx.clock.now()
        networks = list(services.ctx.catalogue)
        if parsed.kind in LISTS:
            listing = await services.sources.listing(
                team_id,
                LIST_BLOCKS,
                network=parsed.arg or None,
                only_broken=parsed.kind == "expired",
            )
            if not listing.total:  # a workspace with sources is known already
                await services.workspaces.ensure(team_id, domain)
            what = {"list": None, "expired": "expired"}.get(parsed.kind)
            if parsed.kind == "network":
                what = services.ctx.catalogue.title(parsed.arg)
            return sources_list(listing, now, what)
        await services.workspaces.ensure(team_id, domain)
        if parsed.kind == "connect":
            if not parsed.arg:
                return short(CONNECT_WHICH.format(example=services.ctx.catalogue.names()[0]))
            try:
                await services.roles.require(team_id, user_id, Action.CONNECT)
                link = await services.links.start(team_id, user_id, parsed.arg)
            except (ConnectRefused, NotAllowed) as refused:
                return short(str(refused))
            return connect_link(link.url, link.network.title, link.minutes)
        if parsed.kind == "help":
            return help_message(networks)
        unknown = UNKNOWN_INPUT.format(text=escape(parsed.arg[:100]).replace("`", "'"))
        return help_message(networks, unknown)

    app.command(ids.COMMAND)(limit.after_ack(sources_command))
