"""The sandbox's HTTP side: the page, its JSON API, and the fake Slack Web API the bot calls.

Routes (all under ``/demo``):

- ``GET /demo``: the page; ``/demo/static/*`` its script and styles.
- ``GET /demo/api/state?after=N``: the workspace as the page draws it (messages already
  rendered from Block Kit); waits up to ``POLL_SECONDS`` for a version newer than ``N``.
- ``POST /demo/api/command|action|home|submit|close``: what the person does, sent on to the
  bot as signed Slack requests.
- ``POST /demo/api/skip`` and ``/demo/api/digest``: the demo's controls.
- ``/demo/slack/api/{method}`` and ``/demo/slack/response/{key}``: Slack's Web API and
  response URLs, as the bot's ``SLACK_API_URL`` and its payloads' ``response_url``.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.demo.clock import OffsetClock
from bot.demo.interactions import Interactions
from bot.demo.render import mrkdwn, plain, render_blocks
from bot.demo.workspace import (
    BOT_USER,
    CHANNEL,
    CHANNELS,
    DM,
    ME,
    TEAM_ID,
    TEAM_NAME,
    USERS,
    Posted,
    Workspace,
)
from bot.services import Services

log = logging.getLogger(__name__)

POLL_SECONDS = 10.0
SKIP = timedelta(days=60)
_NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class Sandbox:
    """The page's controls act on these: the bot's services, the clock and the workspace."""

    workspace: Workspace
    interactions: Interactions
    services: Services
    clock: OffsetClock

    # --- the page's state -----------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        ws = self.workspace
        names = ws.names
        now = self.clock.now()
        modal = ws.modals[-1] if ws.modals else None
        home = ws.home.get(ME)
        return {
            "version": ws.version,
            "team": {"id": TEAM_ID, "name": TEAM_NAME},
            "me": {"id": ME, "name": USERS[ME]},
            "clock": {
                "now": now.isoformat(),
                "label": f"{now:%a %d %b %Y, %H:%M} UTC",
                "days_ahead": self.clock.offset.days,
            },
            "channels": [{"id": cid, "name": name} for cid, name in CHANNELS.items()],
            "dm": DM,
            "notify_channel": CHANNEL,
            "conversations": {
                channel: [self._message(m) for m in ws.conversation(channel)]
                for channel in [*CHANNELS, DM]
            },
            "home": {"id": home.id, "html": render_blocks(home.view.get("blocks", []), names)}
            if home
            else None,
            "modal": {
                "id": modal.id,
                "hash": modal.hash,
                "title": plain(modal.view.get("title")),
                "submit": plain(modal.view.get("submit")) if modal.view.get("submit") else None,
                "close": plain(modal.view.get("close")) or "Cancel",
                "html": render_blocks(modal.view.get("blocks", []), names),
            }
            if modal
            else None,
            "notes": ws.notes[-5:],
            "warnings": ws.warnings[-5:],
        }

    def _message(self, message: Posted, replies: bool = True) -> dict[str, Any]:
        ws = self.workspace
        when = datetime.fromtimestamp(float(message.ts), UTC)
        body = (
            render_blocks(message.blocks, ws.names)
            if message.blocks
            else mrkdwn(message.text, ws.names)
        )
        data: dict[str, Any] = {
            "ts": message.ts,
            "author": USERS.get(message.user, message.user),
            "bot": message.user == BOT_USER,
            "time": f"{when:%H:%M}",
            "day": f"{when:%A, %B} {when.day}, {when.year}",
            "html": body,
            "edited": message.edited,
            "ephemeral": message.ephemeral_for is not None,
            "command": message.text if message.note == "command" else None,
        }
        if replies:
            data["replies"] = [
                self._message(reply, replies=False)
                for reply in ws.replies(message.channel, message.ts)
            ]
        return data

    # --- routes ---------------------------------------------------------------------------

    def routes(self) -> list[Route | Mount]:
        static = StaticFiles(packages=[("bot.demo", "static")])
        return [
            Route("/", self.page, methods=["GET"]),
            Mount("/static", app=static, name="static"),
            Route("/api/state", self.get_state, methods=["GET"]),
            Route("/api/command", self._json(self.command), methods=["POST"]),
            Route("/api/action", self._json(self.action), methods=["POST"]),
            Route("/api/home", self._json(self.home), methods=["POST"]),
            Route("/api/submit", self._json(self.submit), methods=["POST"]),
            Route("/api/close", self._json(self.close), methods=["POST"]),
            Route("/api/skip", self._json(self.skip), methods=["POST"]),
            Route("/api/digest", self._json(self.digest), methods=["POST"]),
            Route("/slack/api/{method}", self.web_api, methods=["GET", "POST"]),
            Route("/slack/response/{key}", self.response_url, methods=["POST"]),
        ]

    async def page(self, request: Request) -> Response:
        html = resources.files("bot.demo").joinpath("static/index.html").read_text("utf-8")
        return HTMLResponse(html, headers=_NO_STORE)

    async def get_state(self, request: Request) -> Response:
        try:
            after = int(request.query_params.get("after", "-1"))
        except ValueError:
            after = -1
        if after >= self.workspace.version:
            await self.workspace.wait_past(after, POLL_SECONDS)
        return JSONResponse(self.state(), headers=_NO_STORE)

    @staticmethod
    def _json(
        handler: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            # Only the page's own script sends JSON; a form on another site cannot.
            if request.headers.get("content-type", "").split(";")[0] != "application/json":
                return JSONResponse({"ok": False, "error": "send JSON"}, 415)
            try:
                body = await request.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                return JSONResponse({"ok": False, "error": "a JSON object, please"}, 400)
            return JSONResponse(await handler(body), headers=_NO_STORE)

        return endpoint

    async def command(self, body: dict[str, Any]) -> dict[str, Any]:
        text = str(body.get("text", "")).strip()
        channel = str(body.get("channel") or CHANNEL)
        if channel not in [*CHANNELS, DM]:
            return {"ok": False, "error": "no such conversation"}
        if not text.startswith("/sources"):
            return {"ok": False, "error": "The sandbox sends slash commands: try /sources"}
        status = await self.interactions.command(text, channel)
        return {"ok": status == 200, "status": status}

    async def action(self, body: dict[str, Any]) -> dict[str, Any]:
        action_id = str(body.get("action_id", ""))
        block_id = str(body.get("block_id", ""))
        value = body.get("value")
        if body.get("view_id"):
            status = await self.interactions.view_action(
                str(body["view_id"]), action_id, block_id, value
            )
        else:
            message = self.workspace.find(str(body.get("channel", "")), str(body.get("ts", "")))
            if message is None:
                return {"ok": False, "error": "that message is gone"}
            status = await self.interactions.message_action(message, action_id, block_id, value)
        return {"ok": status == 200, "status": status}

    async def home(self, body: dict[str, Any]) -> dict[str, Any]:
        status = await self.interactions.home_opened(str(body.get("tab", "home")))
        return {"ok": status == 200, "status": status}

    async def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        values = body.get("values")
        return await self.interactions.submit(
            str(body.get("view_id", "")), values if isinstance(values, dict) else {}
        )

    async def close(self, body: dict[str, Any]) -> dict[str, Any]:
        await self.interactions.close_view(str(body.get("view_id", "")))
        return {"ok": True}

    async def skip(self, body: dict[str, Any]) -> dict[str, Any]:
        """Move the demo's clock 60 days on and run a scan, as the scheduler would."""
        self.clock.advance(SKIP)
        report = await self.services.scan.run()
        day = self.clock.now()
        note = (
            f"Skipped ahead 60 days to {day:%a %d %b %Y}. Scan: {len(report.expired)} expired, "
            f"{len(report.renewed)} renewed, {report.notices_queued} notice(s) on their way."
        )
        await self.workspace.note(note)
        return {"ok": True, "note": note, "summary": report.summary()}

    async def digest(self, body: dict[str, Any]) -> dict[str, Any]:
        workspace = await self.services.workspaces.ensure(TEAM_ID, TEAM_NAME)
        posted = await self.services.digest.post(workspace)
        note = (
            "Today's digest is on its way."
            if posted
            else "Today's digest was already posted (one a day): skip ahead for the next one."
        )
        await self.workspace.note(note)
        return {"ok": True, "posted": posted, "note": note}

    async def web_api(self, request: Request) -> Response:
        method = request.path_params["method"]
        args = dict(request.query_params)
        raw = await request.body()
        if raw:
            if request.headers.get("content-type", "").startswith("application/json"):
                try:
                    loaded = json.loads(raw)
                except ValueError:
                    return JSONResponse({"ok": False, "error": "invalid_json"})
                if isinstance(loaded, dict):
                    args.update(loaded)
            else:
                args.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not (token or args.pop("token", "")).startswith("xoxb-"):
            return JSONResponse({"ok": False, "error": "not_authed"})
        return JSONResponse(await self.workspace.call(method, _decoded(args)))

    async def response_url(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"ok": False, "error": "invalid_json"}, 400)
        status, answer = await self.workspace.respond(request.path_params["key"], _decoded(body))
        return JSONResponse(answer, status_code=status)


def _decoded(args: dict[str, Any]) -> dict[str, Any]:
    """Form-encoded Web API calls carry blocks and views as JSON strings."""
    out = dict(args)
    for key in ("blocks", "view", "attachments", "metadata"):
        if isinstance(out.get(key), str):
            with contextlib.suppress(ValueError):
                out[key] = json.loads(out[key])
    return out
