"""The first run in development: demo data seeded once per database, and the wipe behind
`mailer demo reset`. Production never gets here (the callers refuse)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from mailer.accounts import editors
from mailer.addresses import address_key
from mailer.audience import topics
from mailer.config import Settings
from mailer.db import Connection, load_queries
from mailer.demo.content import (
    DEMO_ADMIN_EMAIL,
    DEMO_ADMIN_NAME,
    DEMO_FEED_NAME,
    DEMO_FEED_POLL_SECONDS,
    DEMO_SERIES_CRON,
    DEMO_SERIES_NAME,
    DEMO_SERIES_TIMEZONE,
    DEMO_TOPIC_DESCRIPTIONS,
    DEMO_TOPICS,
)
from mailer.editorial import series
from mailer.errors import Conflict
from mailer.migrate import apply_migrations

Q = load_queries("demo/seed")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Seeded:
    """What a seeding made; the password exists nowhere else (only its hash is stored)."""

    admin_email: str
    admin_password: str
    topics: tuple[str, ...]
    series_name: str
    feed_url: str


@dataclass(frozen=True)
class DemoState:
    """The database's first-run decision, for the start page."""

    seeded: bool
    decided_at: datetime
    admin_email: str | None
    feed_url: str | None
    series_name: str | None


async def seed_once(pool: asyncpg.Pool, settings: Settings, *, now: datetime) -> Seeded | None:
    """Seed the demo data unless this database has decided already; None if it had.

    One transaction: instances starting together seed once (the marker row's key makes the
    others wait, then find it), and a crash leaves no half-seeded database. A database that
    already holds data is marked as decided and left alone, so the demo never mixes in.
    """
    if await pool.fetchval(Q["demo_decided"]):
        return None
    password = secrets.token_urlsafe(12)  # 16 characters from 96 random bits
    hashed = await editors.hash_password(password)
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval(Q["claim_demo_seed"]):
            return None
        if await conn.fetchval(Q["database_has_data"]):
            log.info(
                "this database has data already, so no demo data is added "
                "(`mailer demo reset` wipes it and seeds the demo)"
            )
            return None
        return await _seed(conn, settings, now=now, password=password, hashed=hashed)


async def _seed(
    conn: Connection, settings: Settings, *, now: datetime, password: str, hashed: str
) -> Seeded:
    # The domains' rows, on this one connection so that all of it is one transaction.
    slugs = []
    for position, name in enumerate(DEMO_TOPICS, start=1):
        slug = topics.slug_for(name)
        await conn.execute(
            Q["demo_create_topic"], slug, name, DEMO_TOPIC_DESCRIPTIONS[name], True, position
        )
        slugs.append(slug)
    weekly = await conn.fetchrow(
        Q["demo_create_series"],
        topics.slug_for(DEMO_SERIES_NAME),
        DEMO_SERIES_NAME,
        "Every Monday: the week's stories on the topics each reader chose.",
        DEMO_SERIES_CRON,
        DEMO_SERIES_TIMEZONE,
        "draft",
        True,  # the default series: new subscribers get it when they confirm
        series.next_occurrence(DEMO_SERIES_CRON, DEMO_SERIES_TIMEZONE, now),
    )
    source = await conn.fetchrow(
        Q["demo_create_source"],
        settings.demo_feed_url,
        DEMO_FEED_NAME,
        [],
        {name.casefold(): [slug] for name, slug in zip(DEMO_TOPICS, slugs, strict=True)},
        DEMO_FEED_POLL_SECONDS,
    )
    await conn.execute(
        Q["demo_create_editor"],
        DEMO_ADMIN_EMAIL,
        address_key(DEMO_ADMIN_EMAIL),
        DEMO_ADMIN_NAME,
        editors.Role.ADMIN.value,
        hashed,
    )
    # The password is printed for whoever reads the terminal: the admin replaces it first.
    await editors.require_password_change(conn, DEMO_ADMIN_EMAIL)
    assert weekly is not None
    assert source is not None
    await conn.execute(
        Q["mark_demo_seeded"], DEMO_ADMIN_EMAIL, source["source_id"], weekly["series_id"]
    )
    return Seeded(
        admin_email=DEMO_ADMIN_EMAIL,
        admin_password=password,
        topics=tuple(DEMO_TOPICS),
        series_name=DEMO_SERIES_NAME,
        feed_url=settings.demo_feed_url,
    )


async def demo_state(pool: asyncpg.Pool) -> DemoState | None:
    row = await pool.fetchrow(Q["get_demo_seed"])
    if row is None:
        return None
    return DemoState(
        seeded=row["outcome"] == "seeded",
        decided_at=row["decided_at"],
        admin_email=row["admin_email"],
        feed_url=row["feed_url"],
        series_name=row["series_name"],
    )


async def demo_anchor(pool: asyncpg.Pool) -> datetime | None:
    """When the demo was seeded: the demo feed's dates are relative to it."""
    anchor: datetime | None = await pool.fetchval(Q["get_demo_anchor"])
    return anchor


async def follow_listen_address(pool: asyncpg.Pool, settings: Settings) -> bool:
    """Point the demo source at this instance's address if MAILER_LISTEN changed since it
    was seeded; True if it moved."""
    moved = await pool.fetchval(Q["move_demo_feed"], settings.demo_feed_url)
    if moved is not None:
        log.info("the demo feed source now reads %s", settings.demo_feed_url)
    return moved is not None


async def wipe_database(pool: asyncpg.Pool, migrations: Path) -> None:
    """Drop every table and build the schema again from the migrations; refused (Conflict)
    while another client, such as a running `mailer serve`, uses the database."""
    async with pool.acquire() as conn:
        others = await conn.fetchval(Q["count_other_sessions"])
        if others:
            raise Conflict(
                f"{others} other connection(s) use this database: stop `mailer serve` "
                "(and anything else connected to it) first"
            )
        async with conn.transaction():
            await conn.execute(Q["drop_public_schema"])
            await conn.execute(Q["create_public_schema"])
            await conn.execute(Q["grant_public_schema"])
        await conn.reload_schema_state()  # statements cached before name dropped tables
        await apply_migrations(conn, migrations)
