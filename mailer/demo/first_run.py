"""What `mailer serve` does and says on a first run in development: the demo data seeded,
and the admin's one-time password shown."""

from __future__ import annotations

import logging
import sys
import textwrap
from datetime import UTC, datetime

import asyncpg

from mailer.config import Settings
from mailer.demo import seed as demo_seed

log = logging.getLogger(__name__)


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
