"""`mailer demo reset`: wipe a development database and its outbox, then seed the demo data
again (the parser is registered in cli.py)."""

from __future__ import annotations

import argparse
import mailbox
import sys
from datetime import UTC, datetime

from mailer.config import Settings
from mailer.demo import seed as demo_seed
from mailer.demo.first_run import welcome_banner
from mailer.embedded import outbox_dir
from mailer.errors import Conflict, MailerError
from mailer.resources import migrations_dir
from mailer.runtime.database import open_database


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
