"""The `sources-bot` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from bot import cli_api, logs
from bot.config import ConfigError, Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.delivery.dispatcher import DrainReport
    from bot.services import Services

log = logging.getLogger("bot.cli")

NO_CHANNEL = "no channel for notices: pick one on the App Home or set SLACK_NOTIFY_CHANNEL"
PROGRESS_OVER = 1000  # records; smaller imports finish before progress would help
# Seconds `scan` and `digest` wait for what Slack's rate limits hold back (then: `serve`).
RATE_LIMIT_PATIENCE = 60.0
# Slack's answers that mean the bot token itself is refused.
TOKEN_REFUSED = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sources-bot",
        description="Keep your team's social-network connections alive, from Slack.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the bot (migrates the database first)")
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")  # noqa: S104
    serve.add_argument("--port", type=_port, help="port to listen on (default $PORT or 3000)")
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

    keys = commands.add_parser("keys", help="TOKEN_ENCRYPTION_KEY and the stored secrets")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    key_commands.add_parser("check", help="how many stored secrets each key decrypts")
    key_commands.add_parser("rotate", help="re-encrypt every stored secret with the first key")

    commands.add_parser(
        "scan",
        help="renew, expire and notify once, now",
        description="One scan: renew what is due, mark what died, queue notices; then the team "
        "workflow's check (claim reminders, snoozes that ran out, escalations); then deliver "
        "what is queued. Prints a summary and what was delivered.",
    )
    digest = commands.add_parser("digest", help="post today's digest now")
    digest.add_argument("--dry-run", action="store_true", help="print the Block Kit JSON instead")
    cli_api.add_parsers(commands)

    demo = commands.add_parser(
        "demo",
        help="try the whole loop locally: the bot with a Slack sandbox and a demo network",
        description="Run the real bot on a fresh SQLite file in a temporary directory, with a "
        "built-in Slack sandbox and demo sign-in page, and print the URL to open. Nothing is "
        "kept when it stops.",
    )
    demo.add_argument("--port", type=int, default=3000, help="port on 127.0.0.1 (default 3000)")
    _document_environment(parser)
    parser.epilog = (
        "Settings come from environment variables: each command's --help names those it "
        'reads, and README.md, section "Configuration", explains them.'
    )
    return parser


# What each command reads from the environment, shown by its --help. One entry per command.
_BOT_SETTINGS = (
    "SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, SLACK_CLIENT_ID, "
    "SLACK_CLIENT_SECRET, SLACK_AUTHORIZE_URL, SLACK_API_URL, SLACK_NOTIFY_CHANNEL, "
    "DATABASE_URL, DATABASE_POOL_SIZE, TOKEN_ENCRYPTION_KEY, PUBLIC_URL, PORT, DIGEST_HOUR, "
    "DIGEST_TIMEZONE, DIGEST_ALWAYS_POST, EXPIRY_WARNING_DAYS, RENEWAL_FAILURE_BUDGET_HOURS, "
    "EVENT_RETENTION_DAYS, UNINSTALL_RETENTION_DAYS, WEBHOOK_TIMEOUT_SECONDS, "
    "SLACK_CHANNEL_INTERVAL_SECONDS, RENEWAL_WARN_AFTER, CLAIM_REMIND_HOURS, MAX_SNOOZE_DAYS, "
    "ESCALATE_AFTER_HOURS, NETWORK_CONCURRENCY, "
    "{NETWORK}_CLIENT_ID, {NETWORK}_CLIENT_SECRET, {NETWORK}_{KEY}_URL, LOG_FORMAT, METRICS_TOKEN"
)
_STORE = "DATABASE_URL, TOKEN_ENCRYPTION_KEY, LOG_FORMAT"
ENVIRONMENT = {
    "serve": _BOT_SETTINGS,
    "db": "DATABASE_URL, LOG_FORMAT",
    "db upgrade": "DATABASE_URL, LOG_FORMAT",
    "sources": "DATABASE_URL, TOKEN_ENCRYPTION_KEY, SLACK_BOT_TOKEN, SLACK_API_URL, LOG_FORMAT",
    "sources list": "DATABASE_URL, TOKEN_ENCRYPTION_KEY, LOG_FORMAT",
    "sources import": (
        "DATABASE_URL, TOKEN_ENCRYPTION_KEY, SLACK_BOT_TOKEN and SLACK_API_URL (for records "
        "without a workspace), LOG_FORMAT"
    ),
    "scan": _BOT_SETTINGS.replace("SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, ", "").replace(
        "PORT, ", ""
    ),
    "digest": (
        "DATABASE_URL, TOKEN_ENCRYPTION_KEY, SLACK_BOT_TOKEN, SLACK_API_URL, "
        "SLACK_NOTIFY_CHANNEL, DIGEST_HOUR, DIGEST_TIMEZONE, DIGEST_ALWAYS_POST, LOG_FORMAT"
    ),
    "sources remove": _STORE,
    "keys": _STORE,
    "keys check": _STORE,
    "keys rotate": _STORE,
    "api-keys": _STORE,
    "api-keys create": _STORE,
    "api-keys list": _STORE,
    "api-keys revoke": _STORE,
    "webhooks": _STORE,
    "webhooks add": _STORE,
    "webhooks list": _STORE,
    "webhooks remove": _STORE,
    "webhooks enable": _STORE,
    "webhooks deliveries": _STORE,
    "webhooks redeliver": _STORE,
    "demo": "none: the demo makes its own settings and ignores the environment",
}
README_SECTIONS = {"demo": "Try it in a minute"}  # the rest are explained under Configuration


def _document_environment(parser: argparse.ArgumentParser, path: str = "") -> None:
    """Give every command's --help the variables it reads and where the README explains them."""
    if path:
        section = README_SECTIONS.get(path, "Configuration")
        parser.epilog = (
            f"environment: {ENVIRONMENT.get(path, 'see the README')}. "
            f'README.md, section "{section}", explains each variable.'
        )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                _document_environment(sub, f"{path} {name}".strip())


def main(argv: Sequence[str] | None = None, env: dict[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        logs.configure()
        return demo(args.port)
    try:
        settings = Settings.from_env(env)
        logs.configure(json_lines=settings.log_format == "json")
        if args.command == "serve":
            return serve(settings, args.host, args.port, args.no_scheduler)
        return asyncio.run(_run(settings, args))
    except ConfigError as err:
        print(f"sources-bot: configuration error: {err}", file=sys.stderr)
        return 2


def demo(port: int) -> int:
    import time

    started = time.monotonic()
    from bot.demo.server import serve as serve_demo

    try:
        return asyncio.run(serve_demo(port, started=started))
    except KeyboardInterrupt:
        return 0


def serve(settings: Settings, host: str, port: int | None, no_scheduler: bool) -> int:
    import uvicorn

    from bot.app import create_app

    bot = create_app(settings, scheduler=not no_scheduler)

    async def checks() -> bool:
        try:
            return await _migrate(settings, bot.engine) and await _warn_secrets(bot.services)
        finally:  # the engine's connections belong to this event loop, not the server's
            await bot.engine.dispose()

    if not asyncio.run(checks()):
        return 1
    uvicorn.run(bot.asgi, host=host, port=port or settings.port, log_config=None)
    return 0


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import create_services
    from bot.clock import SystemClock
    from bot.services.leases import database_leases
    from bot.store.db import create_engine

    engine = create_engine(settings.database_url, settings.database_pool_size)
    try:
        if not await _migrate(settings, engine):
            return 1
        if args.command == "db":
            print("database is up to date")
            return 0
        services = create_services(settings, engine, SystemClock(), database_leases(engine))
        if args.command != "keys":  # which prints its own counts
            await _warn_secrets(services)
        subcommand = getattr(args, f"{args.command.replace('-', '_')}_command", None)
        handler = _COMMANDS[f"{args.command} {subcommand}" if subcommand else args.command]
        try:
            return await handler(services, args)
        finally:
            await services.aclose()
    finally:
        await engine.dispose()


async def _migrate(settings: Settings, engine: AsyncEngine) -> bool:
    """Bring the schema up to date; False, with the cause in one line, when the database
    cannot be used."""
    from bot.store import migrate
    from bot.store.db import describe_error

    path = settings.sqlite_path
    if path is not None and not path.resolve().parent.is_dir():
        print(
            f"sources-bot: cannot open the database {path.resolve()}: "
            f"the directory {path.resolve().parent} does not exist",
            file=sys.stderr,
        )
        return False
    try:
        await migrate.upgrade(engine)
    except (OSError, SQLAlchemyError) as err:  # unreachable, refused, missing database
        where = describe_error(err, settings.database_url)
        print(f"sources-bot: cannot open the database {where}", file=sys.stderr)
        return False
    return True


async def _warn_secrets(services: Services) -> bool:
    """Say at start, not at the next renewal, when stored secrets cannot be decrypted."""
    from bot.services import keys

    report = await keys.check(services.ctx)
    if report.undecryptable:
        log.warning(
            "%d stored secret(s) cannot be decrypted with any key of TOKEN_ENCRYPTION_KEY "
            "(was a key removed?); sources: %s. `sources-bot keys check` counts them per key",
            report.undecryptable,
            await keys.source_labels(services.ctx, report.sources) or "none",
        )
    return True


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
    shown = 0

    def progress(done: int, total: int) -> None:
        nonlocal shown
        # About every tenth of a long file, so a person sees it move.
        if total > PROGRESS_OVER and (done == total or done - shown >= total // 10):
            print(f"importing: {done}/{total} records written", file=sys.stderr)
            shown = done

    if len(records) > PROGRESS_OVER:
        print(f"importing: all {len(records)} records are valid", file=sys.stderr)
    try:
        created, updated = await import_records(
            services.ctx, services.workspaces, records, progress
        )
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
    from bot.services.internal import database_failed
    from bot.store.db import describe_error

    try:
        report = await services.scan.run()
    except Exception as err:
        if not database_failed(err):
            raise
        where = describe_error(err, services.ctx.settings.database_url)
        print(f"sources-bot: the scan stopped, the database failed: {where}", file=sys.stderr)
        return 1
    print(report.summary())
    workflow = await services.workflow.run_due()
    if workflow.reminded or workflow.announced_again or workflow.escalated:
        print(workflow.summary())
    delivered = _delivered(await services.dispatcher.drain(patience=RATE_LIMIT_PATIENCE))
    return await _delivery(services, no_channel=bool(report.no_channel)) or delivered


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
    no_channel = False
    for workspace in workspaces:
        if services.workspaces.settings(workspace).notify_channel is None:
            plan = await services.digest.plan(workspace)
            quiet = plan.content.all_well and not services.ctx.settings.digest_always_post
            no_channel = no_channel or not quiet
            continue
        queued += await services.digest.post(workspace)
    print(f"digests: {queued} (a workspace gets at most one a day; quiet days post nothing)")
    delivered = _delivered(await services.dispatcher.drain(patience=RATE_LIMIT_PATIENCE))
    return await _delivery(services, no_channel=no_channel) or delivered


async def _delivery(services: Services, *, no_channel: bool) -> int:
    """1, with the reason on stderr, when what had to be posted cannot be: no channel, or a
    token Slack refuses. Slack being unreachable is not that: what is queued waits for it."""
    from bot.slack_api import SlackUnavailable

    problems = [NO_CHANNEL] if no_channel else []
    if services.ctx.settings.slack_bot_token:
        try:
            await services.ctx.slack.team()
        except SlackUnavailable as err:
            if err.reason in TOKEN_REFUSED:
                problems.append(
                    f"Slack refused the bot token ({err.reason}): check SLACK_BOT_TOKEN"
                )
            else:
                print(
                    f"sources-bot: Slack could not be reached ({err.reason}); "
                    "what was not delivered stays queued for `serve` or the next run",
                    file=sys.stderr,
                )
    for problem in problems:
        print(f"sources-bot: {problem}", file=sys.stderr)
    return 1 if problems else 0


async def _keys_check(services: Services, args: argparse.Namespace) -> int:
    from bot.services import keys

    report = await keys.check(services.ctx)
    for index, count in enumerate(report.per_key):
        which = "first key (newest)" if index == 0 else f"key {index + 1}"
        print(f"{which}: decrypts {count} stored secret(s)")
    print(f"no key: {report.undecryptable} stored secret(s)")
    if report.undecryptable:
        labels = await keys.source_labels(services.ctx, report.sources)
        print(
            f"sources-bot: secrets no key decrypts belong to: {labels or 'no source'}",
            file=sys.stderr,
        )
        return 1
    unused = [i + 1 for i, count in enumerate(report.per_key) if count == 0 and i > 0]
    if unused:
        print(f"no stored secret needs key(s) {', '.join(map(str, unused))}: they can be removed")
    return 0


async def _keys_rotate(services: Services, args: argparse.Namespace) -> int:
    from bot.services import keys

    def progress(done: int, total: int) -> None:
        print(f"checked {done}/{total} stored secret(s)", file=sys.stderr)

    report = await keys.rotate(services.ctx, progress)
    print(
        f"re-encrypted {report.rotated} stored secret(s) with the first key; "
        f"{report.already_newest} already used it"
    )
    if report.undecryptable:
        labels = await keys.source_labels(services.ctx, report.sources)
        print(
            f"sources-bot: {report.undecryptable} stored secret(s) cannot be decrypted by any "
            f"key and were left as they are (sources: {labels or 'none'})",
            file=sys.stderr,
        )
        return 1
    return 0


_COMMANDS: dict[str, Callable[[Services, argparse.Namespace], Awaitable[int]]] = {
    "sources list": _list,
    "sources import": _import,
    "sources remove": _remove,
    "scan": _scan,
    "digest": _digest,
    **cli_api.COMMANDS,
    "keys check": _keys_check,
    "keys rotate": _keys_rotate,
}


def _version() -> str:
    try:
        return metadata.version("sources-bot")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535, not {value!r}")
    return port
