"""Every named query (and the ones composed from them) prepares against the migrated
schema: a typo or a renamed column fails here, not in production."""

from __future__ import annotations

import re

import asyncpg

from mailer.db import PACKAGE_DIR, load_queries
from mailer.editorial import alerts, corrections

QUERIES = [
    (concern, name, text)
    for concern in sorted(
        str(path.relative_to(PACKAGE_DIR).with_suffix("")) for path in PACKAGE_DIR.rglob("*.sql")
    )
    for name, text in load_queries(concern).items()
]
COMPOSED = [
    ("alerts", "count", alerts._COUNT),
    ("alerts", "fan_out", alerts._FAN_OUT),
    ("corrections", "count", corrections._COUNT),
    ("corrections", "fan_out", corrections._FAN_OUT),
]


async def test_every_query_prepares(pool: asyncpg.Pool) -> None:
    """One database for all of them (a clone per query would cost minutes). A temporary
    table a file creates (the import's staging tables) is created, in a transaction rolled
    back afterwards, so that the file's later queries prepare against it."""
    failures = []
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            for concern, name, text in QUERIES + COMPOSED:
                try:
                    async with conn.transaction():  # a savepoint: one failure stays one
                        if re.search(r"^CREATE TEMP", text, re.MULTILINE):
                            await conn.execute(text)
                        else:
                            await conn.prepare(text)
                except asyncpg.PostgresError as exc:
                    failures.append(f"{concern}.sql {name}: {exc}")
        finally:
            await tx.rollback()
    assert failures == []
    assert len(QUERIES) > 100  # every file was read
