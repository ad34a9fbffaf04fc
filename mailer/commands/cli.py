"""The `mailer` command: parse arguments, read settings once, run."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from typing import Any

import asyncpg
import uvloop

from mailer import __version__
from mailer.commands import alerts as alert_commands
from mailer.commands import delivery as delivery_commands
from mailer.commands import demo as demo_commands
from mailer.commands import doctor as doctor_commands
from mailer.commands import editorial as commands
from mailer.commands import editors as editor_commands
from mailer.commands import feedback as commands_feedback
from mailer.commands import repermission as repermission_commands
from mailer.commands import subscribers as subscriber_commands
from mailer.config import Settings, ensure_dev_secret_key, load_settings, render_reference_markdown
from mailer.errors import ConfigError, InvalidInput, MailerError, StartupError
from mailer.logs import configure_logging
from mailer.runtime.database import open_database

log = logging.getLogger("mailer")

EXIT_STARTUP = 2

Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailer",
        description="Mailing lists and news digests for a public-health newsroom.",
        epilog="Settings come from MAILER_* environment variables (or .env); "
        "see `mailer config` and the README.",
    )
    parser.add_argument("--version", action="version", version=f"mailer {__version__}")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = subcommands.add_parser(
        "serve",
        help="run the service",
        description="Run the web server, the scheduler and the delivery workers.",
    )
    serve.add_argument(
        "--role",
        choices=["all", "web", "worker", "bounces"],
        default="all",
        help="which part to run: all (default), web (HTTP only), worker "
        "(scheduler, delivery, outbound webhooks) or bounces (the SMTP receiver for "
        "bounce and complaint reports); scale them apart",
    )
    serve.add_argument(
        "--no-demo",
        action="store_true",
        help="do not seed demo data on a fresh development database (also MAILER_DEMO=false)",
    )
    serve.add_argument("--no-listen", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(handler=_serve)

    migrate = subcommands.add_parser(
        "migrate", help="apply database migrations", description="Apply pending migrations."
    )
    migrate.set_defaults(handler=_migrate)

    keys_cmd = subcommands.add_parser(
        "api-keys", help="create, list and revoke editor API keys", description="Editor API keys."
    )
    keys_sub = keys_cmd.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = keys_sub.add_parser("create", help="create a key and print it (shown only once)")
    create.add_argument("name", help="who or what uses the key, e.g. 'cms' or 'Ana Editor'")
    create.add_argument(
        "--role",
        choices=("editor", "admin"),
        default="editor",
        help="editor (items, digests, alerts, reading; the default) or admin (also topics, "
        "feeds, series, subscriber data and erasure, imports, suppressions, webhooks)",
    )
    keys_sub.add_parser("list", help="list keys (never the keys themselves)")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", type=int)
    keys_cmd.set_defaults(handler=commands.api_keys_command)

    topics_cmd = subcommands.add_parser(
        "topics", help="add, list, change or remove topics", description="Topics people choose."
    )
    topic_sub = topics_cmd.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = topic_sub.add_parser("add", help="add a topic")
    add.add_argument("name", help='e.g. "Overdose Prevention"')
    add.add_argument("--slug", help="URL and API name (default: from the name)")
    add.add_argument("--description", default="")
    add.add_argument("--hidden", action="store_true", help="not offered on public forms")
    add.add_argument("--position", type=int, default=0, help="order on forms (lower first)")
    topic_sub.add_parser("list", help="list topics")
    change = topic_sub.add_parser("update", help="change a topic")
    change.add_argument("slug")
    change.add_argument("--name")
    change.add_argument("--description")
    change.add_argument("--public", dest="public", action="store_true", default=None)
    change.add_argument("--hidden", dest="public", action="store_false")
    change.add_argument("--position", type=int)
    remove = topic_sub.add_parser("remove", help="remove a topic (subscribers lose it)")
    remove.add_argument("slug")
    topics_cmd.set_defaults(handler=commands.topics_command)

    feeds_cmd = subcommands.add_parser(
        "feeds", help="add, list, update, pause, poll or remove feed sources", description="Feeds."
    )
    feed_sub = feeds_cmd.add_subparsers(dest="action", metavar="ACTION", required=True)
    feed_add = feed_sub.add_parser("add", help="add a feed (RSS, Atom or JSON Feed)")
    feed_add.add_argument("url")
    feed_add.add_argument("--name", default="")
    feed_add.add_argument(
        "--topic", action="append", default=[], help="a topic every item gets (repeatable)"
    )
    feed_add.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="CATEGORY=TOPIC",
        help="items with this feed category get this topic (repeatable)",
    )
    feed_add.add_argument("--interval", type=int, default=900, help="seconds between polls")
    feed_sub.add_parser("list", help="list sources with their last poll")
    feed_update = feed_sub.add_parser(
        "update",
        help="change a source (as PATCH /api/v1/feeds/ID): only what is given changes",
        description="Change a feed source; a new --url (a feed that moved) is polled afresh "
        "at once, and its items update the stored ones.",
    )
    feed_update.add_argument("source_id", type=int)
    feed_update.add_argument("--url", help="the feed's new address")
    feed_update.add_argument("--name")
    feed_update.add_argument(
        "--topic", action="append", help="the topics every item gets (repeatable; replaces them)"
    )
    feed_update.add_argument("--no-topics", action="store_true", help="no topic for every item")
    feed_update.add_argument(
        "--map",
        action="append",
        metavar="CATEGORY=TOPIC",
        help="category rules (repeatable; replaces them)",
    )
    feed_update.add_argument("--no-map", action="store_true", help="no category rules")
    feed_update.add_argument("--interval", type=int, help="seconds between polls")
    for action, text in (
        ("pause", "stop polling a source"),
        ("resume", "poll a paused source again"),
        ("remove", "remove a source (its items stay)"),
    ):
        feed_sub.add_parser(action, help=text).add_argument("source_id", type=int)
    feed_poll = feed_sub.add_parser("poll", help="poll one source, or all, now")
    feed_poll.add_argument("source_id", type=int, nargs="?")
    feeds_cmd.set_defaults(handler=commands.feeds_command)

    series_cmd = subcommands.add_parser(
        "series",
        help="add, list or remove digest series",
        description="Digest series and schedules.",
    )
    series_sub = series_cmd.add_subparsers(dest="action", metavar="ACTION", required=True)
    series_add = series_sub.add_parser("add", help="add a series")
    series_add.add_argument("name", help='e.g. "Weekly public health news"')
    series_add.add_argument(
        "--cron", required=True, help="'minute hour day month weekday', e.g. '0 9 * * tue'"
    )
    series_add.add_argument("--timezone", required=True, help="e.g. America/New_York")
    series_add.add_argument("--auto", action="store_true", help="send without an editor")
    series_add.add_argument("--default", action="store_true", help="new subscribers get it")
    series_add.add_argument("--slug")
    series_sub.add_parser("list", help="list series with their next occurrence")
    series_remove = series_sub.add_parser(
        "remove", help="remove a series (refused while it has unfinished digests)"
    )
    series_remove.add_argument("series_id", type=int, help="the series id")
    series_cmd.set_defaults(handler=commands.series_command)

    digests_cmd = subcommands.add_parser(
        "digests",
        help="create, schedule, send, watch or list digests",
        description="Digests assembled from the feed for a series.",
    )
    digest_sub = digests_cmd.add_subparsers(dest="action", metavar="ACTION", required=True)
    digest_create = digest_sub.add_parser("create", help="assemble a draft for a series")
    digest_create.add_argument("--series", type=int, required=True, help="the series id")
    digest_create.add_argument("--subject")
    digest_list = digest_sub.add_parser("list", help="list digests")
    digest_list.add_argument("--status")
    digest_schedule = digest_sub.add_parser("schedule", help="schedule a digest")
    digest_schedule.add_argument("mailing_id", type=int)
    digest_schedule.add_argument(
        "--at", required=True, help="ISO time with zone, e.g. 2026-12-01T09:00-05:00"
    )
    for action, text in (
        ("send-now", "start sending now"),
        ("watch", "live progress until sent"),
        ("cancel", "cancel (what was not handed to SMTP)"),
    ):
        digest_sub.add_parser(action, help=text).add_argument("mailing_id", type=int)
    digest_preview = digest_sub.add_parser("preview", help="print the text version")
    digest_preview.add_argument("mailing_id", type=int)
    digest_preview.add_argument("--subscriber", help="id or address: their items only")
    digests_cmd.set_defaults(handler=commands.digests_command)

    mailings_cmd = subcommands.add_parser(
        "mailings",
        help="watch, pause, resume or cancel a sending mailing",
        description="Control the delivery of a bulk mailing (a digest, an alert).",
    )
    mailing_sub = mailings_cmd.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in (
        ("watch", "show live progress (rate, ETA) until it is sent or cancelled"),
        ("progress", "print progress once, as JSON"),
        ("pause", "stop handing its mails to SMTP (in-flight ones finish)"),
        ("resume", "continue a paused mailing"),
        ("cancel", "cancel every mail not yet handed to SMTP"),
    ):
        sub = mailing_sub.add_parser(action, help=text)
        sub.add_argument("mailing_id", type=int)
    mailings_cmd.set_defaults(handler=commands.mailings_command)

    editor_commands.add_parser(subcommands)
    alert_commands.add_parsers(subcommands)
    commands_feedback.add_parsers(subcommands)
    doctor_commands.add_parser(subcommands)
    delivery_commands.add_parser(subcommands)
    demo_commands.add_parser(subcommands)
    subscriber_commands.add_parser(subcommands)
    repermission_commands.add_parser(subcommands)

    config = subcommands.add_parser(
        "config",
        help="print the effective settings (secrets redacted)",
        description="Validate and print the effective settings, with secrets redacted.",
    )
    config.add_argument(
        "--reference",
        action="store_true",
        help="print every setting's variable, default and meaning (the docs' table) instead",
    )
    config.set_defaults(handler=_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"mailer: configuration error: {problem}", file=sys.stderr)
        return EXIT_STARTUP
    configure_logging(settings.log_level, json_lines=settings.is_production)
    for sentence in settings.ignored:
        log.warning("%s", sentence)
    handler: Command = args.handler
    try:
        settings = ensure_dev_secret_key(settings)
        return uvloop.run(handler(settings, args))
    except StartupError as exc:
        print(f"mailer: {exc}", file=sys.stderr)
        return EXIT_STARTUP
    except MailerError as exc:  # a refused command: not found, wrong state, bad input
        fields = exc.fields if isinstance(exc, InvalidInput) else {}
        detail = "; ".join(f"{name}: {problem}" for name, problem in fields.items())
        print(f"mailer: {exc}{f' ({detail})' if detail else ''}", file=sys.stderr)
        return 1
    except asyncpg.PostgresError as exc:
        # A refusal no command expects (a right the database user lacks, a statement
        # timeout): one sentence, as for any other; `serve` and `migrate` could not start.
        print(f"mailer: the database refused: {exc}", file=sys.stderr)
        return EXIT_STARTUP if args.command in ("serve", "migrate") else 1
    except KeyboardInterrupt:
        return 130


async def _serve(settings: Settings, args: argparse.Namespace) -> int:
    # Imported here: the service (web app, scheduler, workers) is a third of the command's
    # start-up, which every other command (an import of a few seconds, say) would pay.
    from mailer.runtime.serve import Role, run_service

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.no_demo:
        settings = replace(settings, demo=False)
    await run_service(settings, Role(args.role), stop, listen=not args.no_listen)
    return 0


async def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    async with open_database(settings):
        pass  # opening applies what is pending, under the advisory lock
    print("migrations are up to date")
    return 0


async def _config(settings: Settings, args: argparse.Namespace) -> int:
    if args.reference:
        print(render_reference_markdown())
        return 0
    shown = settings.redacted()
    width = max(len(name) for name in shown)
    for name, value in shown.items():
        print(f"{name:{width}}  {value}")
    return 0
