"""The sandbox's Slack workspace: what Slack would store, and its Web API answers.

One channel for the team, a direct-message conversation with the bot, the App Home tab,
modals, ephemeral messages and response URLs. Every change bumps ``version`` and wakes the
page's long poll, so messages appear when they arrive, whether the bot posts them inside a
request or later (from a scan, the scheduler or an outbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.clock import Clock
from bot.demo.render import Names

log = logging.getLogger(__name__)

TEAM_ID = "T0DEMO"
TEAM_NAME = "Acme"
TEAM_DOMAIN = "acme-demo"
ME = "U0DEMOYOU"
ME_NAME = "Alex Kim"
TEAMMATE = "U0DEMOSAM"
BOT_USER = "U0SOURCESBOT"
BOT_ID = "B0SOURCESBOT"
APP_ID = "A0SOURCESBOT"
CHANNEL = "C0SOCIAL"
GENERAL = "C0GENERAL"
DM = "D0SOURCESBOT"  # the person's direct messages with the bot (the app's Messages tab)

CHANNELS = {CHANNEL: "social-team", GENERAL: "general"}
USERS = {ME: ME_NAME, TEAMMATE: "Sam Rivera", BOT_USER: "sources-bot"}
RESPONSE_URL_USES = 5  # Slack allows five posts to one response_url


@dataclass
class Posted:
    """A message as the sandbox keeps it."""

    channel: str
    ts: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    edited: bool = False
    ephemeral_for: str | None = None  # only this user sees it
    note: str | None = None  # e.g. the command an ephemeral answers


@dataclass
class ResponseUrl:
    channel: str
    user: str
    message_ts: str | None  # the message clicked, for replace_original
    ephemeral: bool
    uses: int = 0


@dataclass
class View:
    id: str
    view: dict[str, Any]
    user: str
    hash: str = field(default_factory=lambda: secrets.token_hex(8))


class Workspace:
    """The sandbox's Slack state. See module docstring."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.messages: list[Posted] = []
        self.response_urls: dict[str, ResponseUrl] = {}
        self.home: dict[str, View] = {}  # user -> Home tab view
        self.modals: list[View] = []  # the open modal stack, newest last
        self.warnings: list[str] = []
        self.notes: list[str] = []  # what the sandbox's own controls did, newest last
        self.version = 0
        self.closed = False
        self._changed = asyncio.Event()  # set and replaced on every change
        self._last_ts = 0.0
        self._ids = itertools.count(1)
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.delete": self._delete,
            "chat.getPermalink": self._permalink,
            "views.publish": self._views_publish,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "conversations.info": self._conversations_info,
            "conversations.list": self._conversations_list,
            "conversations.members": self._conversations_members,
            "conversations.join": self._conversations_join,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "usergroups.users.list": self._usergroup_users,
            "team.info": self._team_info,
        }

    @property
    def names(self) -> Names:
        return Names(users=USERS, channels=CHANNELS)

    # --- change notification ------------------------------------------------------------

    async def changed(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_past(self, version: int, timeout: float) -> None:  # noqa: ASYNC109
        """Return once ``self.version > version``, after ``timeout`` seconds, or on closing."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.version <= version and not self.closed:
                    await self._changed.wait()

    def close(self) -> None:
        """Let waiting page polls return, so the server can stop without waiting for them.

        Safe to call from a signal handler: it only schedules the wake-up on the loop.
        """
        self.closed = True
        asyncio.get_running_loop().call_soon_threadsafe(self._changed.set)

    async def note(self, text: str) -> None:
        self.notes.append(text)
        await self.changed()

    # --- ids ----------------------------------------------------------------------------

    def next_ts(self) -> str:
        """A message ts on the demo clock, unique and increasing, as Slack's are."""
        now = max(self.clock.now().timestamp(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def new_response_url(
        self, base_url: str, channel: str, user: str, message_ts: str | None, ephemeral: bool
    ) -> str:
        key = secrets.token_urlsafe(12)
        self.response_urls[key] = ResponseUrl(channel, user, message_ts, ephemeral)
        return f"{base_url}/{key}"

    def new_trigger_id(self) -> str:
        return f"{next(self._ids)}.{int(self.clock.now().timestamp())}.{secrets.token_hex(8)}"

    # --- reads for the page ---------------------------------------------------------------

    def conversation(self, channel: str) -> list[Posted]:
        return [m for m in self.messages if m.channel == channel and m.thread_ts is None]

    def replies(self, channel: str, ts: str) -> list[Posted]:
        return [m for m in self.messages if m.channel == channel and m.thread_ts == ts]

    def find(self, channel: str, ts: str) -> Posted | None:
        return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    def view(self, view_id: str) -> View | None:
        for view in [*self.home.values(), *self.modals]:
            if view.id == view_id:
                return view
        return None

    # --- Web API ------------------------------------------------------------------------

    async def call(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        handler = self._methods.get(method)
        if handler is None:
            # Later features may call methods the sandbox does not model yet; keep them working.
            log.warning("sandbox: Web API method %s is not modelled; answered ok", method)
            self.warnings.append(method)
            return {"ok": True}
        answer = handler(args)
        if answer.get("ok") and method not in _READS:
            await self.changed()
        return answer

    async def respond(self, key: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A post to a response_url: ephemeral by default, or in channel, or replacing."""
        target = self.response_urls.get(key)
        if target is None:
            return 404, {"ok": False, "error": "invalid_url"}
        target.uses += 1
        if target.uses > RESPONSE_URL_USES:
            return 404, {"ok": False, "error": "used_url"}
        original = self.find(target.channel, target.message_ts) if target.message_ts else None
        if args.get("delete_original") and original is not None:
            self.messages.remove(original)
        elif args.get("replace_original") and original is not None:
            original.text = str(args.get("text", ""))
            original.blocks = list(args.get("blocks") or [])
            original.edited = not target.ephemeral
        elif args.get("response_type") == "in_channel":
            self._add(target.channel, BOT_USER, args)
        else:
            self._add(target.channel, BOT_USER, args, ephemeral_for=target.user)
        await self.changed()
        return 200, {"ok": True}

    def _add(
        self,
        channel: str,
        user: str,
        args: dict[str, Any],
        *,
        ephemeral_for: str | None = None,
        note: str | None = None,
    ) -> Posted:
        message = Posted(
            channel=channel,
            ts=self.next_ts(),
            user=user,
            text=str(args.get("text", "")),
            blocks=list(args.get("blocks") or []),
            thread_ts=args.get("thread_ts") or None,
            ephemeral_for=ephemeral_for,
            note=note,
        )
        self.messages.append(message)
        return message

    def add_ephemeral_note(self, channel: str, text: str) -> None:
        """What the person typed, shown above the bot's private answer."""
        self._add(channel, ME, {"text": text}, ephemeral_for=ME, note="command")

    def _channel(self, args: dict[str, Any]) -> str | None:
        channel = str(args.get("channel") or "")
        if channel in {ME, DM}:  # posting to a user id opens the DM with them
            return DM
        return channel if channel in CHANNELS else None

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "team_id": TEAM_ID,
            "user": "sources-bot",
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if not (args.get("text") or args.get("blocks")):
            return {"ok": False, "error": "no_text"}
        thread = args.get("thread_ts")
        if thread and self.find(channel, str(thread)) is None:
            return {"ok": False, "error": "thread_not_found"}
        message = self._add(channel, BOT_USER, args)
        return {"ok": True, "channel": channel, "ts": message.ts, "message": _api(message)}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        message = self.find(channel or "", str(args.get("ts", "")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        message.text = str(args.get("text", message.text))
        if "blocks" in args:
            message.blocks = list(args["blocks"] or [])
        message.edited = True
        return {"ok": True, "channel": message.channel, "ts": message.ts, "text": message.text}

    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if args.get("user") not in USERS:
            return {"ok": False, "error": "user_not_in_channel"}
        message = self._add(channel, BOT_USER, args, ephemeral_for=str(args["user"]))
        return {"ok": True, "message_ts": message.ts}

    def _delete(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self.find(self._channel(args) or "", str(args.get("ts", "")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        self.messages.remove(message)
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self.find(self._channel(args) or "", str(args.get("message_ts", "")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        permalink = f"https://{TEAM_DOMAIN}.slack.com/archives/{message.channel}/p{message.ts}"
        return {"ok": True, "channel": message.channel, "permalink": permalink}

    def _stored(self, view: View) -> dict[str, Any]:
        return {
            **view.view,
            "id": view.id,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "hash": view.hash,
            "state": {"values": {}},
            "root_view_id": view.id,
            "app_installed_team_id": TEAM_ID,
        }

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user_id", ""))
        view = args.get("view")
        if user not in USERS or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        current = self.home.get(user)
        stored = View(current.id if current else f"VH{next(self._ids):06d}", view, user)
        self.home[user] = stored
        return {"ok": True, "view": self._stored(stored)}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if not args.get("trigger_id") or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        stored = View(f"VM{next(self._ids):06d}", view, ME)
        self.modals.append(stored)
        return {"ok": True, "view": self._stored(stored)}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        target = self.view(str(args.get("view_id", "")))
        if target is None and args.get("external_id"):
            target = next(
                (v for v in self.modals if v.view.get("external_id") == args["external_id"]),
                None,
            )
        if target is None or not isinstance(view, dict):
            return {"ok": False, "error": "not_found"}
        target.view = view
        target.hash = secrets.token_hex(8)
        return {"ok": True, "view": self._stored(target)}

    def _conversation(self, channel: str) -> dict[str, Any]:
        if channel == DM:
            return {"id": DM, "is_im": True, "user": ME, "is_member": True}
        return {
            "id": channel,
            "name": CHANNELS[channel],
            "is_channel": True,
            "is_private": False,
            "is_member": True,
            "is_archived": False,
        }

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args)
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": self._conversation(channel)}

    def _conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        channels = [self._conversation(channel) for channel in CHANNELS]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}

    def _conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        members = [ME, TEAMMATE, BOT_USER]
        return {"ok": True, "members": members, "response_metadata": {"next_cursor": ""}}

    def _conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._conversations_info(args)

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "channel": {"id": DM}}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args) or ""
        found = [_api(m) for m in reversed(self.conversation(channel)) if not m.ephemeral_for]
        return {"ok": True, "messages": found, "has_more": False}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args) or ""
        ts = str(args.get("ts", ""))
        parent = self.find(channel, ts)
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        return {"ok": True, "messages": [_api(m) for m in [parent, *self.replies(channel, ts)]]}

    def _user(self, user_id: str) -> dict[str, Any]:
        name = USERS[user_id]
        return {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name.split()[0].lower(),
            "real_name": name,
            "is_bot": user_id == BOT_USER,
            "is_admin": user_id == ME,
            "is_owner": user_id == ME,
            "deleted": False,
            "tz": "UTC",
            "profile": {"real_name": name, "display_name": name},
        }

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user", ""))
        if user not in USERS:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": self._user(user)}

    def _users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        members = [self._user(user) for user in USERS]
        return {"ok": True, "members": members, "response_metadata": {"next_cursor": ""}}

    def _usergroup_users(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "users": [ME, TEAMMATE]}

    def _team_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "team": {"id": TEAM_ID, "name": TEAM_NAME, "domain": TEAM_DOMAIN}}


_READS = {
    "auth.test",
    "chat.getPermalink",
    "conversations.info",
    "conversations.list",
    "conversations.members",
    "conversations.history",
    "conversations.replies",
    "users.info",
    "users.list",
    "usergroups.users.list",
    "team.info",
}


def _api(message: Posted) -> dict[str, Any]:
    """A message as the Web API returns it."""
    body: dict[str, Any] = {
        "type": "message",
        "ts": message.ts,
        "user": message.user,
        "text": message.text,
        "blocks": message.blocks,
    }
    if message.user == BOT_USER:
        body |= {"bot_id": BOT_ID, "app_id": APP_ID, "subtype": "bot_message"}
    if message.thread_ts:
        body["thread_ts"] = message.thread_ts
    return body
