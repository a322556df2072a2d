"""What the person does in the sandbox, sent to the bot's /slack/events as Slack sends it.

Payloads follow Slack's shapes (slash command form fields, ``block_actions`` and
``view_submission`` payloads, ``event_callback`` envelopes) and are signed with the demo's
signing secret: ``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}``. The bot's real Bolt app
checks the signature and runs its real listeners.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import httpx2

from bot.demo.workspace import (
    APP_ID,
    BOT_ID,
    BOT_USER,
    CHANNELS,
    DM,
    ME,
    TEAM_DOMAIN,
    TEAM_ID,
    Posted,
    Workspace,
)

log = logging.getLogger(__name__)

VERIFICATION_TOKEN = "demo-verification-token"  # noqa: S105 - Slack's deprecated field, unused
_events = itertools.count(1)


def sign(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The two headers Slack adds to every request it sends an app."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def _user() -> dict[str, Any]:
    return {"id": ME, "username": "alex", "name": "alex", "team_id": TEAM_ID}


def _team() -> dict[str, Any]:
    return {"id": TEAM_ID, "domain": TEAM_DOMAIN}


def _walk(blocks: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(block id, element) for every element that can be clicked, chosen or filled in."""
    for index, block in enumerate(blocks):
        block_id = str(block.get("block_id") or f"b{index}")
        elements = list(block.get("elements", [])) if block.get("type") == "actions" else []
        for key in ("accessory", "element"):
            if isinstance(block.get(key), Mapping):
                elements.append(block[key])
        for element in elements:
            yield block_id, element


def find_element(
    blocks: Sequence[Mapping[str, Any]], action_id: str, block_id: str = ""
) -> tuple[str, Mapping[str, Any]] | None:
    for found_block, element in _walk(blocks):
        if element.get("action_id") == action_id and (not block_id or block_id == found_block):
            return found_block, element
    return None


def _option(element: Mapping[str, Any], value: str) -> dict[str, Any]:
    options = [
        *element.get("options", []),
        *(o for g in element.get("option_groups", []) for o in g.get("options", [])),
    ]
    return dict(next((o for o in options if str(o.get("value")) == value), {"value": value}))


def selection(element: Mapping[str, Any], value: Any) -> dict[str, Any]:
    """The fields Slack adds to an action or a state value for what was chosen or typed."""
    kind = str(element.get("type", ""))
    values = [str(v) for v in value] if isinstance(value, list) else [str(value or "")]
    first = values[0] if values else ""
    if kind == "button":
        return {"value": element["value"]} if "value" in element else {}
    if kind in {"static_select", "external_select", "overflow", "radio_buttons"}:
        return {"selected_option": _option(element, first) if first else None}
    if kind in {"multi_static_select", "multi_external_select", "checkboxes"}:
        return {"selected_options": [_option(element, v) for v in values if v]}
    simple = {
        "conversations_select": "selected_conversation",
        "channels_select": "selected_channel",
        "users_select": "selected_user",
        "datepicker": "selected_date",
        "timepicker": "selected_time",
        "multi_conversations_select": "selected_conversations",
        "multi_channels_select": "selected_channels",
        "multi_users_select": "selected_users",
    }
    if kind in simple:
        multi = kind.startswith("multi_")
        return {simple[kind]: [v for v in values if v] if multi else (first or None)}
    return {"value": first or None}  # Slack sends null for an empty text input


def initial(element: Mapping[str, Any]) -> Any:
    """An element's initial value, in the form :func:`selection` takes."""
    for key in ("initial_conversation", "initial_channel", "initial_user"):
        if element.get(key):
            return element[key]
    for key in ("initial_conversations", "initial_channels", "initial_users"):
        if element.get(key):
            return list(element[key])
    if element.get("initial_option"):
        return element["initial_option"].get("value", "")
    if element.get("initial_options"):
        return [option.get("value", "") for option in element["initial_options"]]
    for key in ("initial_value", "initial_date", "initial_time"):
        if element.get(key) is not None:
            return element[key]
    return None


class Interactions:
    """Signed requests to the bot, and what to show when it answers in the HTTP response."""

    def __init__(
        self, workspace: Workspace, bot_url: str, signing_secret: str, response_base: str
    ) -> None:
        self.workspace = workspace
        self.signing_secret = signing_secret
        self.response_base = response_base
        self.http = httpx2.AsyncClient(base_url=bot_url, timeout=10.0)

    async def close(self) -> None:
        await self.http.aclose()

    async def _send(self, body: str, content_type: str) -> httpx2.Response:
        headers = {"Content-Type": content_type, **sign(body, self.signing_secret)}
        response = await self.http.post("/slack/events", content=body, headers=headers)
        if response.status_code != 200:
            log.warning("sandbox: the bot answered HTTP %s", response.status_code)
        return response

    async def command(self, text: str, channel: str) -> int:
        """``/sources text`` typed in ``channel``; the bot answers through the response_url."""
        words = text.strip()
        command, _, rest = words.partition(" ")
        self.workspace.add_ephemeral_note(channel, words)
        await self.workspace.changed()
        response_url = self.workspace.new_response_url(
            self.response_base, channel, ME, None, ephemeral=True
        )
        fields = [
            ("token", VERIFICATION_TOKEN),
            ("team_id", TEAM_ID),
            ("team_domain", TEAM_DOMAIN),
            ("channel_id", channel),
            ("channel_name", CHANNELS.get(channel, "directmessage")),
            ("user_id", ME),
            ("user_name", "alex"),
            ("command", command),
            ("text", rest.strip()),
            ("api_app_id", APP_ID),
            ("is_enterprise_install", "false"),
            ("response_url", response_url),
            ("trigger_id", self.workspace.new_trigger_id()),
        ]
        response = await self._send(urlencode(fields), "application/x-www-form-urlencoded")
        await self._immediate_answer(response, response_url)
        return response.status_code

    async def _immediate_answer(self, response: httpx2.Response, response_url: str) -> None:
        """An ack with a body is shown as Slack shows it: a private reply."""
        if response.status_code != 200 or not response.content.strip():
            return
        try:
            answer = response.json()
        except ValueError:
            answer = {"text": response.text}
        if isinstance(answer, dict) and (answer.get("text") or answer.get("blocks")):
            await self.workspace.respond(response_url.rsplit("/", 1)[1], answer)

    async def message_action(
        self, message: Posted, action_id: str, block_id: str, value: Any
    ) -> int:
        found = find_element(message.blocks, action_id, block_id)
        if found is None:
            return 404
        block_id, element = found
        ephemeral = message.ephemeral_for is not None
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": message.channel,
            "is_ephemeral": ephemeral,
        }
        if message.thread_ts:
            container["thread_ts"] = message.thread_ts
        payload: dict[str, Any] = {
            "container": container,
            "channel": {"id": message.channel, "name": CHANNELS.get(message.channel, "")},
            "state": {"values": {}},
            "response_url": self.workspace.new_response_url(
                self.response_base, message.channel, ME, message.ts, ephemeral
            ),
        }
        if not ephemeral:
            payload["message"] = {
                "type": "message",
                "ts": message.ts,
                "user": message.user,
                "bot_id": BOT_ID if message.user == BOT_USER else None,
                "text": message.text,
                "blocks": message.blocks,
                **({"thread_ts": message.thread_ts} if message.thread_ts else {}),
            }
        return await self._block_actions(payload, block_id, element, value)

    async def view_action(self, view_id: str, action_id: str, block_id: str, value: Any) -> int:
        view = self.workspace.view(view_id)
        if view is None:
            return 404
        found = find_element(view.view.get("blocks", []), action_id, block_id)
        if found is None:
            return 404
        block_id, element = found
        payload = {
            "container": {"type": "view", "view_id": view.id},
            "view": self._view_payload(view.id, {}),
        }
        return await self._block_actions(payload, block_id, element, value)

    async def _block_actions(
        self, payload: dict[str, Any], block_id: str, element: Mapping[str, Any], value: Any
    ) -> int:
        action = {
            "type": element.get("type"),
            "action_id": element.get("action_id"),
            "block_id": block_id,
            "action_ts": f"{time.time():.6f}",
            **selection(element, value),
        }
        if element.get("type") == "button":
            action["text"] = element.get("text")
        body = {
            "type": "block_actions",
            "user": _user(),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self.workspace.new_trigger_id(),
            "team": _team(),
            "enterprise": None,
            "is_enterprise_install": False,
            **payload,
            "actions": [action],
        }
        response = await self._send(
            urlencode({"payload": json.dumps(body)}), "application/x-www-form-urlencoded"
        )
        return response.status_code

    def _view_payload(self, view_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        view = self.workspace.view(view_id)
        assert view is not None
        given = {(block, action): value for block, action, value in _entries(values)}
        inputs = {
            str(block.get("block_id") or f"b{index}")
            for index, block in enumerate(view.view.get("blocks", []))
            if block.get("type") == "input"
        }
        state: dict[str, dict[str, Any]] = {}
        for block_id, element in _walk(view.view.get("blocks", [])):
            key = (block_id, str(element.get("action_id", "")))
            # Slack's state holds every input, untouched ones with their initial values.
            if key in given or block_id in inputs:
                value = given[key] if key in given else initial(element)
                state.setdefault(block_id, {})[key[1]] = {
                    "type": element.get("type"),
                    **selection(element, value),
                }
        return {
            **view.view,
            "id": view.id,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "hash": view.hash,
            "state": {"values": state},
            "root_view_id": view.id,
            "previous_view_id": None,
            "app_installed_team_id": TEAM_ID,
        }

    async def submit(self, view_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """Submit a modal; returns what the sandbox should do (close, errors or update)."""
        if self.workspace.view(view_id) is None:
            return {"result": "gone"}
        body = {
            "type": "view_submission",
            "team": _team(),
            "user": _user(),
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self.workspace.new_trigger_id(),
            "view": self._view_payload(view_id, values),
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        response = await self._send(
            urlencode({"payload": json.dumps(body)}), "application/x-www-form-urlencoded"
        )
        if response.status_code != 200:  # Slack keeps the modal open and says so
            return {
                "result": "failed",
                "error": f"The app did not answer (HTTP {response.status_code}).",
            }
        answer: dict[str, Any] = {}
        if response.content.strip():
            try:
                answer = dict(response.json())
            except ValueError:
                answer = {}
        action = answer.get("response_action")
        if action == "errors":
            return {"result": "errors", "errors": answer.get("errors", {})}
        target = self.workspace.view(view_id)
        if action in {"update", "push"} and target is not None:
            if action == "update":
                target.view = dict(answer.get("view", {}))
            else:
                await self.workspace.call(
                    "views.open", {"trigger_id": "push", "view": answer.get("view", {})}
                )
            await self.workspace.changed()
            return {"result": action}
        if action == "clear":
            self.workspace.modals.clear()
        elif target is not None and target in self.workspace.modals:
            self.workspace.modals.remove(target)
        await self.workspace.changed()
        return {"result": "closed"}

    async def close_view(self, view_id: str) -> None:
        view = self.workspace.view(view_id)
        if view is not None and view in self.workspace.modals:
            self.workspace.modals.remove(view)
            await self.workspace.changed()
        if view is not None and view.view.get("notify_on_close"):
            body = {
                "type": "view_closed",
                "team": _team(),
                "user": _user(),
                "api_app_id": APP_ID,
                "token": VERIFICATION_TOKEN,
                "view": self._view_payload(view.id, {})
                if self.workspace.view(view.id)
                else view.view,
                "is_cleared": False,
            }
            await self._send(
                urlencode({"payload": json.dumps(body)}), "application/x-www-form-urlencoded"
            )

    async def home_opened(self, tab: str = "home") -> int:
        """The person opened the app's Home (or Messages) tab."""
        n = next(_events)
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": ME,
            "channel": DM,
            "tab": tab,
            "event_ts": f"{time.time():.6f}",
        }
        home = self.workspace.home.get(ME)
        if home is not None:
            event["view"] = self._view_payload(home.id, {})
        body = {
            "token": VERIFICATION_TOKEN,
            "team_id": TEAM_ID,
            "context_team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": f"EvDEMO{n:08d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        response = await self._send(json.dumps(body), "application/json")
        return response.status_code


def _entries(values: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """``{"block": {"action": value}}`` as (block id, action id, value) triples."""
    return [
        (str(block), str(action), value)
        for block, actions in values.items()
        if isinstance(actions, Mapping)
        for action, value in actions.items()
    ]
