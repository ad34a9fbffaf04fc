"""The `mailer` command: parse arguments, read settings once, run."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import uvloop

from mailer import __version__
from mailer.config import Settings, ensure_dev_secret_key, load_settings
from mailer.errors import ConfigError, StartupError
from mailer.logs import configure_logging

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
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the service",
        description="Run the web server, the scheduler and the delivery workers.",
    )
    serve.add_argument(
        "--role",
        choices=["all", "web", "worker"],
        default="all",
        help="which part to run: all (default), web (HTTP only) or worker "
        "(scheduler and delivery); scale web and worker replicas apart",
    )
    serve.add_argument("--no-listen", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(handler=_serve)

    migrate = commands.add_parser(
        "migrate", help="apply database migrations", description="Apply pending migrations."
    )
    migrate.set_defaults(handler=_migrate)

    config = commands.add_parser(
        "config",
        help="print the effective settings (secrets redacted)",
        description="Validate and print the effective settings, with secrets redacted.",
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
    handler: Command = args.handler
    try:
        settings = ensure_dev_secret_key(settings)
        return uvloop.run(handler(settings, args))
    except StartupError as exc:
        print(f"mailer: {exc}", file=sys.stderr)
        return EXIT_STARTUP
    except KeyboardInterrupt:
        return 130


async def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from mailer.service import Role, run_service

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_service(settings, Role(args.role), stop, listen=not args.no_listen)
    return 0


async def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from mailer.service import open_database

    async with open_database(settings):
        pass  # opening applies what is pending, under the advisory lock
    print("migrations are up to date")
    return 0


async def _config(settings: Settings, args: argparse.Namespace) -> int:
    for name, value in settings.redacted().items():
        print(f"{name:18} {value}")
    return 0
