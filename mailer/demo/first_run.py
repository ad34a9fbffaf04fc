"""`mailer demo reset`, and what `mailer serve` says on a first run in development: the
demo data and the admin's one-time password (the parser is registered in cli.py)."""

from __future__ import annotations

import argparse
import logging
import mailbox
import sys
import textwrap
from datetime import UTC, datetime

import asyncpg

from mailer.config import Settings
from mailer.demo import seed as demo_seed
from mailer.embedded import outbox_dir
from mailer.errors import Conflict, MailerError
from mailer.resources import migrations_dir

log = logging.getLogger(__name__)


def add_parser(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo_cmd = subcommands.add_parser(
        "demo",
        help="the demo data of a development instance",
        description="The demo data `mailer serve` seeds on the first start in development.",
    )
    sub = demo_cmd.add_subparsers(dest="action", metavar="ACTION", required=True)
    reset = sub.add_parser(
        "reset",
        help="wipe the database and the outbox, then seed the demo data again "
        "(development only; stop `mailer serve` first)",
    )
    reset.add_argument("--yes", action="store_true", help="do not ask before wiping")
    demo_cmd.set_defaults(handler=demo)


async def demo(settings: Settings, args: argparse.Namespace) -> int:
    from mailer.runtime.serve import open_database

    if settings.is_production:
        raise MailerError(
            "demo reset is for development only: MAILER_ENV is production, and a production "
            "database is never wiped"
        )
    if not args.yes and not _confirmed(settings):
        print("nothing was changed")
        return 1
    async with open_database(settings) as (pool, _):
        await demo_seed.wipe_database(pool, migrations_dir())
        emptied = _empty_outbox(settings)
        seeded = await demo_seed.seed_once(pool, settings, now=datetime.now(UTC))
    if seeded is None:  # cannot happen on a database just emptied, unless someone raced us
        raise Conflict("the database was wiped, but another instance decided its demo data")
    print(f"The database was wiped{' and the outbox emptied' if emptied else ''}.")
    print(welcome_banner(seeded, settings))
    return 0


def _confirmed(settings: Settings) -> bool:
    if not sys.stdin.isatty():
        print("mailer: demo reset wipes every subscriber, digest and account: add --yes")
        return False
    answer = input(
        f"This deletes everything in the database of {settings.base_url} (subscribers, "
        "digests, accounts) and empties the outbox. Type 'reset' to go on: "
    )
    return answer.strip() == "reset"


def _empty_outbox(settings: Settings) -> int:
    """The development outbox's mails carry links of the wiped database: gone with it."""
    folder = outbox_dir(settings.data_dir)
    if not folder.is_dir():
        return 0
    box = mailbox.Maildir(folder, create=False)
    keys = list(box.keys())
    for key in keys:
        box.discard(key)
    return len(keys)


async def first_run(pool: asyncpg.Pool, settings: Settings) -> demo_seed.Seeded | None:
    """At `serve` start in development: seed the demo data if this database never decided
    (what was seeded, to `announce`), or keep the demo source on this instance's address."""
    if settings.is_production:
        return None
    seeded = None
    if settings.demo:
        seeded = await demo_seed.seed_once(pool, settings, now=datetime.now(UTC))
    if seeded is None:
        await demo_seed.follow_listen_address(pool, settings)
        return None
    log.info(
        "first start in development with an empty database: demo data seeded (topics %s; "
        "the series %r; the demo feed %s; the admin %s); `mailer serve --no-demo` or "
        "MAILER_DEMO=false skips this",
        ", ".join(seeded.topics), seeded.series_name, seeded.feed_url, seeded.admin_email,
    )  # fmt: skip
    return seeded


def announce(seeded: demo_seed.Seeded, settings: Settings) -> None:
    """The banner, on stderr like the log but without a logger's level: it must be seen."""
    print(welcome_banner(seeded, settings), file=sys.stderr, flush=True)


def welcome_banner(seeded: demo_seed.Seeded, settings: Settings) -> str:
    base = settings.base_url
    rule = "=" * 78
    about = textwrap.fill(
        f"Demo data was seeded: the topics {', '.join(seeded.topics)}; the series "
        f'"{seeded.series_name}"; and a feed of fictional stories that mailer serves itself.',
        width=74,
        initial_indent="  ",
        subsequent_indent="  ",
    )
    return "\n".join(
        (
            rule,
            f'  mailer is ready: open {base}/ and follow "Try this".',
            "",
            about,
            "",
            f"  Editor console  {base}/console/",
            f"    address       {seeded.admin_email}",
            f"    password      {seeded.admin_password}",
            "    (shown only this once; if you lose it, run",
            f"    .venv/bin/mailer editors reset-password {seeded.admin_email})",
            "",
            f"  Every mail lands in the outbox: {base}/dev/outbox",
            rule,
        )
    )
