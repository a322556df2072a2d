"""`sources-bot api-keys ...` and `sources-bot webhooks ...`: what the tools that publish use.

Secrets (a new key, a new signing secret) are printed once, alone on stdout so a script can
capture them; what they are and what to do with them goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.services.admin import AdminError

if TYPE_CHECKING:
    from bot.services import Services

Command = Callable[["Services", argparse.Namespace], Awaitable[int]]


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser(
        "api-keys",
        help="create, list or revoke keys for the HTTP API",
        description="Keys for the HTTP API under /api/v1. A key sees only its workspace.",
    )
    key_commands = keys.add_subparsers(dest="api_keys_command", required=True, metavar="COMMAND")
    create = key_commands.add_parser(
        "create",
        help="create a key; prints it once",
        description="Create an API key for one workspace. Prints the key (sbk_...) once, "
        "alone on stdout; only its hash is stored, so it cannot be shown again.",
    )
    create.add_argument("--workspace", required=True, help="Slack team id (T...)")
    create.add_argument("--name", required=True, help="who uses it; shown in the event log")
    listing = key_commands.add_parser(
        "list",
        help="print keys: id, workspace, name, prefix, created, last used",
        description="Print every key: id, workspace, name, prefix (its first characters), "
        "when it was created, last used (to the minute) and revoked. Never the key itself.",
    )
    listing.add_argument("--workspace", help="only this workspace's keys")
    listing.add_argument("--json", action="store_true", help="print a JSON array instead")
    revoke = key_commands.add_parser(
        "revoke",
        help="revoke a key at once",
        description="Revoke a key: requests with it are refused from now on. Prints the key "
        "revoked (id, name, prefix).",
    )
    revoke.add_argument("id", type=int, help="the key's id (see `api-keys list`)")

    hooks = commands.add_parser(
        "webhooks",
        help="send events to URLs, signed (Standard Webhooks)",
        description="Webhook endpoints: every event of a workspace, POSTed and signed per the "
        "Standard Webhooks specification.",
    )
    hook_commands = hooks.add_subparsers(dest="webhooks_command", required=True, metavar="COMMAND")
    add = hook_commands.add_parser(
        "add",
        help="add an endpoint; prints its signing secret once",
        description="Add an endpoint. Prints its signing secret (whsec_...) once, alone on "
        "stdout: receivers verify webhook-signature with it. Only http(s) URLs without "
        "credentials in them.",
    )
    add.add_argument("url", help="where to POST events (http:// or https://)")
    add.add_argument("--workspace", required=True, help="Slack team id (T...)")
    add.add_argument(
        "--events",
        help="comma-separated event types (default: every event), e.g. "
        "source.expired,source.restored",
    )
    hooks_list = hook_commands.add_parser(
        "list",
        help="print endpoints: id, workspace, URL, events, state",
        description="Print every endpoint: id, workspace, URL, the events it receives and its "
        "state (active, failing since, or disabled and why). Never the secret.",
    )
    hooks_list.add_argument("--workspace", help="only this workspace's endpoints")
    hooks_list.add_argument("--json", action="store_true", help="print a JSON array instead")
    remove = hook_commands.add_parser(
        "remove",
        help="stop sending to an endpoint",
        description="Remove an endpoint; its pending deliveries are dropped. Prints what "
        "was removed.",
    )
    remove.add_argument("id", type=int, help="the endpoint's id (see `webhooks list`)")
    enable = hook_commands.add_parser(
        "enable",
        help="send to a disabled endpoint again",
        description="Enable an endpoint that was disabled (it answered 410, or kept failing "
        "for 3 days). New events are delivered again; `webhooks redeliver` sends what it "
        "missed. Prints the endpoint enabled.",
    )
    enable.add_argument("id", type=int, help="the endpoint's id")
    deliveries = hook_commands.add_parser(
        "deliveries",
        help="print recent deliveries and their state",
        description="Print deliveries, newest first: id, endpoint, event type and id, state "
        "(pending, retrying, delivered, failed, dropped), tries, last HTTP status and error.",
    )
    deliveries.add_argument(
        "--failed", action="store_true", help="only failed ones (given up, or retrying)"
    )
    deliveries.add_argument("--limit", type=_limit, default=20, help="how many (default 20)")
    deliveries.add_argument("--workspace", help="only this workspace's deliveries")
    deliveries.add_argument("--json", action="store_true", help="print a JSON array instead")
    redeliver = hook_commands.add_parser(
        "redeliver",
        help="send a delivery's event again (same webhook-id)",
        description="Queue a delivery's event again, with the same webhook-id (the event's "
        "id), so a receiver that processed it already can drop it. Prints the new delivery's "
        "id; the running bot sends it.",
    )
    redeliver.add_argument("id", type=int, help="the delivery's id (see `webhooks deliveries`)")


def _limit(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= 1000:
        raise argparse.ArgumentTypeError("must be a whole number from 1 to 1000")
    return number


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def _note(text: str) -> None:
    print(text, file=sys.stderr)


def _admin(command: Command) -> Command:
    """Operator mistakes (unknown workspace, id, event type...) end with a sentence, exit 1."""

    async def run(services: Services, args: argparse.Namespace) -> int:
        try:
            return await command(services, args)
        except AdminError as err:
            _note(f"sources-bot: {err}")
            return 1

    return run


@_admin
async def _keys_create(services: Services, args: argparse.Namespace) -> int:
    created = await services.api_keys.create(args.workspace, args.name)
    print(created.key)
    _note(
        f"API key {created.info.id} ({created.info.name!r}) created for workspace "
        f"{created.info.workspace_id}. It is shown only this once: store it now. "
        f"Send it as `Authorization: Bearer <key>`."
    )
    return 0


@_admin
async def _keys_list(services: Services, args: argparse.Namespace) -> int:
    keys = await services.api_keys.all(args.workspace)
    if args.json:
        print(json.dumps([key.to_json() for key in keys], indent=2))
        return 0
    if not keys:
        print("no API keys yet (create one with `sources-bot api-keys create`)")
        return 0
    print(f"{'id':>5}  {'workspace':<12} {'name':<24} {'prefix':<13} created           last used")
    for key in keys:
        revoked = f"  revoked {_when(key.revoked_at)}" if key.revoked_at else ""
        print(
            f"{key.id:>5}  {key.workspace_id:<12} {key.name:<24} {key.prefix + '…':<13} "
            f"{_when(key.created_at)}  {_when(key.last_used_at)}{revoked}"
        )
    return 0


@_admin
async def _keys_revoke(services: Services, args: argparse.Namespace) -> int:
    key = await services.api_keys.revoke(args.id)
    print(f"revoked API key {key.id} ({key.name!r}, {key.prefix}…) of workspace {key.workspace_id}")
    return 0


@_admin
async def _hooks_add(services: Services, args: argparse.Namespace) -> int:
    events = args.events.split(",") if args.events is not None else None
    added = await services.webhooks.add(args.workspace, args.url, events)
    print(added.secret)
    which = ", ".join(added.info.event_types) if added.info.event_types else "every event"
    _note(
        f"webhook endpoint {added.info.id} added for workspace {added.info.workspace_id}: "
        f"{which}. Above is its signing secret, shown only this once: give it to the "
        "receiver, which verifies webhook-signature with it (Standard Webhooks)."
    )
    return 0


@_admin
async def _hooks_list(services: Services, args: argparse.Namespace) -> int:
    from bot.services.webhooks import endpoint_json

    endpoints = await services.webhooks.endpoints(args.workspace)
    if args.json:
        print(json.dumps([endpoint_json(e) for e in endpoints], indent=2))
        return 0
    if not endpoints:
        print("no webhook endpoints yet (add one with `sources-bot webhooks add`)")
        return 0
    for e in endpoints:
        if e.disabled_at:
            state = f"disabled {_when(e.disabled_at)}: {e.disabled_reason}"
        elif e.failing_since:
            state = f"failing since {_when(e.failing_since)}"
        else:
            state = "active"
        events = ",".join(e.event_types) if e.event_types else "all events"
        print(f"{e.id:>5}  {e.workspace_id:<12} {e.url}  [{events}]  {state}")
    return 0


@_admin
async def _hooks_remove(services: Services, args: argparse.Namespace) -> int:
    endpoint = await services.webhooks.remove(args.id)
    print(f"removed webhook endpoint {endpoint.id} ({endpoint.display_url})")
    return 0


@_admin
async def _hooks_enable(services: Services, args: argparse.Namespace) -> int:
    endpoint = await services.webhooks.enable(args.id)
    print(f"enabled webhook endpoint {endpoint.id} ({endpoint.display_url})")
    return 0


@_admin
async def _hooks_deliveries(services: Services, args: argparse.Namespace) -> int:
    found = await services.webhooks.deliveries(
        failed=args.failed, limit=args.limit, workspace_id=args.workspace
    )
    if args.json:
        print(json.dumps([d.to_json() for d in found], indent=2))
        return 0
    if not found:
        print("no failed deliveries" if args.failed else "no deliveries yet")
        return 0
    for d in found:
        status = d.last_status_code if d.last_status_code is not None else "-"
        error = f"  {d.last_error}" if d.last_error and d.status != "delivered" else ""
        print(
            f"{d.id:>6}  endpoint {d.endpoint_id:<4} {d.event_type:<24} {d.event_id}  "
            f"{d.status:<9} tries {d.attempts:<2} HTTP {status}  {_when(d.created_at)}{error}"
        )
    return 0


@_admin
async def _hooks_redeliver(services: Services, args: argparse.Namespace) -> int:
    delivery = await services.webhooks.redeliver(args.id)
    print(
        f"queued delivery {delivery.id}: event {delivery.event_id} ({delivery.event_type}) "
        f"to endpoint {delivery.endpoint_id} again, with the same webhook-id"
    )
    return 0


COMMANDS: dict[str, Command] = {
    "api-keys create": _keys_create,
    "api-keys list": _keys_list,
    "api-keys revoke": _keys_revoke,
    "webhooks add": _hooks_add,
    "webhooks list": _hooks_list,
    "webhooks remove": _hooks_remove,
    "webhooks enable": _hooks_enable,
    "webhooks deliveries": _hooks_deliveries,
    "webhooks redeliver": _hooks_redeliver,
}
