"""The `sources-bot` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot import logs
from bot.config import ConfigError, Settings

if TYPE_CHECKING:
    from bot.delivery.dispatcher import DrainReport
    from bot.services import Services

log = logging.getLogger("bot.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sources-bot",
        description="Keep your team's social-network connections alive, from Slack.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the bot (migrates the database first)")
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")  # noqa: S104
    serve.add_argument("--port", type=int, help="port to listen on (default $PORT or 3000)")
    serve.add_argument("--no-scheduler", action="store_true", help="do not run scans and digests")

    db = commands.add_parser("db", help="database commands")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    db_commands.add_parser("upgrade", help="apply migrations")

    sources = commands.add_parser("sources", help="list or import sources")
    source_commands = sources.add_subparsers(
        dest="sources_command", required=True, metavar="COMMAND"
    )
    listing = source_commands.add_parser("list", help="print sources and their status")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    importing = source_commands.add_parser("import", help="import sources from a JSON file")
    importing.add_argument("file", type=Path, help="JSON array of source records")
    removing = source_commands.add_parser(
        "remove",
        help="remove a source and its tokens (its events stay in the log)",
        description="Remove a source, its tokens and their history; prints what was removed. "
        "The source.removed event is logged and sent to webhooks.",
    )
    removing.add_argument("id", type=int, help="the source's id (see `sources list`)")

    commands.add_parser(
        "scan",
        help="renew, expire and notify once, now",
        description="One scan: renew what is due, mark what died, queue notices; then deliver "
        "what is queued. Prints a summary and what was delivered.",
    )
    digest = commands.add_parser("digest", help="post today's digest now")
    digest.add_argument("--dry-run", action="store_true", help="print the Block Kit JSON instead")
    return parser


def main(argv: Sequence[str] | None = None, env: dict[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure()
    try:
        settings = Settings.from_env(env)
        if args.command == "serve":
            return serve(settings, args.host, args.port, args.no_scheduler)
        return asyncio.run(_run(settings, args))
    except ConfigError as err:
        print(f"sources-bot: configuration error: {err}", file=sys.stderr)
        return 2


def serve(settings: Settings, host: str, port: int | None, no_scheduler: bool) -> int:
    import uvicorn

    from bot.app import create_app

    bot = create_app(settings, scheduler=not no_scheduler)
    uvicorn.run(bot.asgi, host=host, port=port or settings.port, log_config=None)
    return 0


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import create_services
    from bot.clock import SystemClock
    from bot.store import migrate
    from bot.store.db import create_engine

    engine = create_engine(settings.database_url)
    try:
        try:
            await migrate.upgrade(engine)
        except Exception as err:  # unreachable database, bad credentials
            print(f"sources-bot: cannot open the database: {type(err).__name__}", file=sys.stderr)
            return 1
        if args.command == "db":
            print("database is up to date")
            return 0
        services = create_services(settings, engine, SystemClock())
        handler = _COMMANDS[
            args.command if args.command != "sources" else f"sources {args.sources_command}"
        ]
        return await handler(services, args)
    finally:
        await engine.dispose()


async def _list(services: Services, args: argparse.Namespace) -> int:
    from bot.services.sources import source_json

    sources = await services.sources.everywhere()
    if args.json:
        print(json.dumps([source_json(s) for s in sources], indent=2))
        return 0
    if not sources:
        print("no sources yet")
        return 0
    for s in sources:
        expires = s.expires_at.isoformat() if s.expires_at else "-"
        problem = f"  ({s.last_error.reason})" if s.status.needs_reconnect and s.last_error else ""
        print(f"{s.id:>5}  {s.status:<8}  {s.network_title} · {s.name}  expires {expires}{problem}")
    return 0


async def _remove(services: Services, args: argparse.Namespace) -> int:
    from bot.services.events import CLI

    removed = await services.sources.remove(args.id, actor=CLI)
    if removed is None:
        print(f"sources-bot: no source with id {args.id}", file=sys.stderr)
        return 1
    print(f"removed source {removed.id}: {removed.label}")
    return 0


async def _import(services: Services, args: argparse.Namespace) -> int:
    from bot.services.importer import InvalidImport, import_records, parse_records
    from bot.slack_api import SlackUnavailable

    try:
        data = json.loads(args.file.read_text(encoding="utf-8"))
    except OSError as err:
        print(f"sources-bot: cannot read {args.file}: {err.strerror}", file=sys.stderr)
        return 1
    except json.JSONDecodeError as err:
        print(
            f"sources-bot: {args.file} is not valid JSON: {err.msg} at line {err.lineno}",
            file=sys.stderr,
        )
        return 1
    except UnicodeDecodeError:
        print(f"sources-bot: {args.file} is not a UTF-8 text file", file=sys.stderr)
        return 1
    try:
        records = parse_records(data, services.ctx.catalogue)
    except InvalidImport as invalid:
        for problem in invalid.problems:
            print(problem, file=sys.stderr)
        print("nothing was imported", file=sys.stderr)
        return 1
    if any(r.workspace is None for r in records) and not services.ctx.settings.slack_bot_token:
        print(
            'sources-bot: records without "workspace" need SLACK_BOT_TOKEN (the workspace is '
            "learned from Slack); set it or give each record a workspace; nothing was imported",
            file=sys.stderr,
        )
        return 1
    try:
        created, updated = await import_records(services.ctx, services.workspaces, records)
    except SlackUnavailable as err:  # auth.test, for records without a workspace
        print(
            f"sources-bot: cannot learn the workspace from Slack at "
            f"{services.ctx.settings.slack_api_url} ({err.reason}); nothing was imported",
            file=sys.stderr,
        )
        return 1
    print(f"imported {len(records)} source(s): {created} new, {updated} updated")
    return 0


async def _scan(services: Services, args: argparse.Namespace) -> int:
    report = await services.scan.run()
    print(report.summary())
    return _delivered(await services.dispatcher.drain())


def _delivered(report: DrainReport) -> int:
    """Deliver what the command queued before exiting: a line on what happened to it."""
    line = f"delivered: {report.delivered}"
    if report.retrying:
        line += f"; {report.retrying} queued for retry by `serve`"
    if report.failed:
        line += f"; {report.failed} failed: " + "; ".join(sorted(set(report.errors)))
    print(line)
    return 0


async def _digest(services: Services, args: argparse.Namespace) -> int:
    workspaces = await services.workspaces.installed()
    if args.dry_run:
        for workspace in workspaces:
            plan = await services.digest.plan(workspace)
            payload = {
                "workspace": plan.workspace_id,
                "channel": plan.channel,
                **plan.message.to_dict(),
            }
            print(json.dumps(payload))
        return 0
    queued = 0
    for workspace in workspaces:
        queued += await services.digest.post(workspace)
    print(f"digests: {queued} (a workspace gets at most one a day; quiet days post nothing)")
    return _delivered(await services.dispatcher.drain())


_COMMANDS: dict[str, Callable[[Services, argparse.Namespace], Awaitable[int]]] = {
    "sources list": _list,
    "sources import": _import,
    "sources remove": _remove,
    "scan": _scan,
    "digest": _digest,
}
