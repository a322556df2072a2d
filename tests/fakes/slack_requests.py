"""Build and sign requests the way Slack sends them to an app's request URL.

Each builder returns ``(body, content_type)``; sign the exact body with :func:`sign` and send
it as-is (any re-encoding breaks the signature)::

    body, content_type = slash_command(text="list", response_url=fake.response_url("cmd"))
    headers = sign(body, SIGNING_SECRET)
    await client.post("/slack/events", content=body, headers=headers)
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

VERIFICATION_TOKEN = "verification-token"  # the deprecated `token` field of every payload
API_APP_ID = "A0APP"
TEAM_DOMAIN = "acme"
BOT_USER_ID = "U0BOT"
# Slack would post here; nothing listens (port 9 is "discard"), so a test that forgets to pass
# its fake's response_url fails fast instead of reaching the internet.
UNSET_RESPONSE_URL = "http://127.0.0.1:9/response/unset"

_counter = itertools.count(1)


def sign(
    body: str,
    signing_secret: str,
    timestamp: int | None = None,
    *,
    content_type: str | None = None,
) -> dict[str, str]:
    """Headers Slack sends with ``body``: X-Slack-Request-Timestamp, X-Slack-Signature
    (``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``) and Content-Type (JSON when the
    body looks like JSON, form-encoded otherwise, unless given). ``timestamp`` defaults to
    now; Bolt refuses timestamps more than 5 minutes away."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    base = f"v0:{ts}:{body}".encode()
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    if content_type is None:
        content_type = JSON if body.lstrip().startswith("{") else FORM
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": f"v0={digest}",
    }


def new_trigger_id() -> str:
    n = next(_counter)
    return f"{1_700_000_000_000 + n}.{4_000_000_000 + n}.{secrets.token_hex(16)}"


def _action_ts() -> str:
    return f"{time.time():.6f}"


def slash_command(
    command: str = "/sources",
    text: str = "",
    user_id: str = "U1",
    team_id: str = "T0001",
    channel_id: str = "C1",
    response_url: str = UNSET_RESPONSE_URL,
    trigger_id: str | None = None,
    *,
    user_name: str = "alice",
    channel_name: str = "general",
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = API_APP_ID,
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
) -> tuple[str, str]:
    """A slash command invocation, form-encoded in Slack's field order."""
    fields = [
        ("token", VERIFICATION_TOKEN),
        ("team_id", team_id),
        ("team_domain", team_domain),
        *([("enterprise_id", enterprise_id)] if enterprise_id else []),
        ("channel_id", channel_id),
        ("channel_name", channel_name),
        ("user_id", user_id),
        ("user_name", user_name),
        ("command", command),
        ("text", text),
        ("api_app_id", api_app_id),
        ("is_enterprise_install", "true" if is_enterprise_install else "false"),
        ("response_url", response_url),
        ("trigger_id", trigger_id or new_trigger_id()),
    ]
    return urlencode(fields), FORM


def home_view(
    view_id: str = "V0HOME",
    *,
    team_id: str = "T0001",
    blocks: list[dict[str, Any]] | None = None,
    private_metadata: str = "",
    callback_id: str = "",
    external_id: str = "",
    api_app_id: str = API_APP_ID,
) -> dict[str, Any]:
    """A published Home tab view as Slack includes it in payloads."""
    return {
        "id": view_id,
        "team_id": team_id,
        "type": "home",
        "blocks": blocks or [],
        "private_metadata": private_metadata,
        "callback_id": callback_id,
        "state": {"values": {}},
        "hash": f"1700000000.{view_id.lower()}",
        "title": {"type": "plain_text", "text": "View Title", "emoji": True},
        "clear_on_close": False,
        "notify_on_close": False,
        "close": None,
        "submit": None,
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": api_app_id,
        "external_id": external_id,
        "app_installed_team_id": team_id,
        "bot_id": "B0BOT",
    }


def block_actions(
    action_id: str,
    value: str | None = None,
    user_id: str = "U1",
    team_id: str = "T0001",
    channel_id: str | None = None,
    message_ts: str | None = None,
    response_url: str | None = None,
    container: dict[str, Any] | None = None,
    view: dict[str, Any] | None = None,
    *,
    block_id: str = "actions",
    action_type: str = "button",
    action_fields: dict[str, Any] | None = None,
    button_text: str = "Button",
    message: dict[str, Any] | None = None,
    is_ephemeral: bool = False,
    thread_ts: str | None = None,
    trigger_id: str | None = None,
    user_name: str = "alice",
    channel_name: str = "general",
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = API_APP_ID,
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
) -> tuple[str, str]:
    """A block_actions interaction (one button click), form-encoded as ``payload=<json>``.

    - Message click: give ``channel_id`` and ``message_ts`` (and ``response_url``: pass your
      fake's ``response_url(...)``, or Bolt's respond() posts to an unreachable URL). The
      ``message`` defaults to a bot message with one actions block holding the button;
      ephemeral messages (``is_ephemeral=True``) come without ``message``.
    - App Home / modal click: give ``view`` (e.g. :func:`home_view`); the container is
      ``{"type": "view", "view_id": ...}`` and there is no channel, message or response_url.
    ``container`` overrides the computed container.
    """
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "text": {"type": "plain_text", "text": button_text, "emoji": True},
        "type": action_type,
        "action_ts": _action_ts(),
    }
    if value is not None:
        action["value"] = value
    action.update(action_fields or {})  # e.g. selected_conversation for a select
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": {},
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": {"id": enterprise_id, "name": "Org"} if enterprise_id else None,
        "is_enterprise_install": is_enterprise_install,
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id", "V0HOME")}
        payload["view"] = view
    else:
        if channel_id is None or message_ts is None:
            raise ValueError("a message click needs channel_id and message_ts (or give view=)")
        payload["container"] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        }
        if thread_ts is not None:
            payload["container"]["thread_ts"] = thread_ts
        payload["channel"] = {"id": channel_id, "name": channel_name}
        if not is_ephemeral:
            payload["message"] = message or _default_message(
                message_ts, team_id, block_id, action, thread_ts
            )
        payload["state"] = {"values": {}}
        payload["response_url"] = response_url or UNSET_RESPONSE_URL
    if container is not None:
        payload["container"] = container
    payload["actions"] = [action]
    return urlencode({"payload": json.dumps(payload)}), FORM


def _default_message(
    ts: str, team_id: str, block_id: str, action: dict[str, Any], thread_ts: str | None
) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action["action_id"],
        "text": action["text"],
    }
    if "value" in action:
        button["value"] = action["value"]
    message: dict[str, Any] = {
        "user": BOT_USER_ID,
        "type": "message",
        "ts": ts,
        "bot_id": "B0BOT",
        "app_id": API_APP_ID,
        "text": "A message with a button",
        "team": team_id,
        "blocks": [{"type": "actions", "block_id": block_id, "elements": [button]}],
    }
    if thread_ts is not None:
        message["thread_ts"] = thread_ts
    return message


def event_callback(
    event: dict[str, Any],
    team_id: str = "T0001",
    *,
    api_app_id: str = API_APP_ID,
    event_id: str | None = None,
    event_time: int | None = None,
    bot_user_id: str = BOT_USER_ID,
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
) -> tuple[str, str]:
    """An Events API delivery (JSON) wrapping ``event``."""
    n = next(_counter)
    body = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": enterprise_id,
        "enterprise_id": enterprise_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{n:010d}",
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": enterprise_id,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": is_enterprise_install,
            }
        ],
        "is_ext_shared_channel": False,
        "is_enterprise_install": is_enterprise_install,
        "event_context": f"4-eyJldCI6ImFwcF9ob21lX29wZW5lZCJ9-{n}",
    }
    return json.dumps(body), JSON


def app_home_opened(
    user_id: str = "U1",
    tab: str = "home",
    team_id: str = "T0001",
    *,
    view: dict[str, Any] | None = None,
    channel_id: str | None = None,
    event_id: str | None = None,
) -> tuple[str, str]:
    """The app_home_opened event (as an event_callback). ``view`` is what Slack includes when
    a Home tab was published before (omit it for a first visit)."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": channel_id or f"D{user_id}",
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }
    if view is not None:
        event["view"] = view
    return event_callback(event, team_id, event_id=event_id)


def url_verification(
    challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
) -> tuple[str, str]:
    body = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    return json.dumps(body), JSON


def view_submission(
    view: dict[str, Any],
    values: dict[str, dict[str, dict[str, Any]]],
    user_id: str = "U1",
    team_id: str = "T0001",
    *,
    view_id: str = "V0MODAL",
    api_app_id: str = API_APP_ID,
    team_domain: str = TEAM_DOMAIN,
) -> tuple[str, str]:
    """A view_submission of ``view`` (as the app opened it) with ``values`` as the person
    left its inputs: ``{block_id: {action_id: {"type": ..., <the element's value>}}}``."""
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": team_domain},
        "user": {"id": user_id, "username": "alice", "name": "alice", "team_id": team_id},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": new_trigger_id(),
        "view": {
            **view,
            "id": view_id,
            "team_id": team_id,
            "state": {"values": values},
            "hash": f"1700000000.{view_id.lower()}",
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": api_app_id,
            "app_installed_team_id": team_id,
            "bot_id": "B0BOT",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return urlencode({"payload": json.dumps(payload)}), FORM


def app_uninstalled(team_id: str = "T0001", **options: Any) -> tuple[str, str]:
    return event_callback({"type": "app_uninstalled"}, team_id, **options)


def tokens_revoked(
    team_id: str = "T0001", bot: list[str] | None = None, oauth: list[str] | None = None
) -> tuple[str, str]:
    tokens: dict[str, list[str]] = {}
    if bot:
        tokens["bot"] = bot
    if oauth:
        tokens["oauth"] = oauth
    return event_callback({"type": "tokens_revoked", "tokens": tokens}, team_id)


def envelope_payload(body: str) -> dict[str, Any]:
    """What Slack puts in a Socket Mode envelope for the request ``body`` a builder made: the
    same fields, unsigned (slash commands as a dict of strings, interactions as the JSON)."""
    if body.lstrip().startswith("{"):
        decoded: dict[str, Any] = json.loads(body)
        return decoded
    fields = dict(parse_qsl(body, keep_blank_values=True))
    if set(fields) == {"payload"}:
        payload: dict[str, Any] = json.loads(fields["payload"])
        return payload
    return fields
