"""Every named query of mailer/sql/*.sql prepares against the migrated schema, so a typo
or a renamed column fails here and not in production (one database for all of them)."""

from __future__ import annotations

import asyncpg

from mailer.db import SQL_DIR, load_queries


async def test_every_query_prepares(pool: asyncpg.Pool) -> None:
    failures = []
    count = 0
    async with pool.acquire() as conn:
        for path in sorted(SQL_DIR.glob("*.sql")):
            for name, sql in load_queries(path.stem).items():
                count += 1
                try:
                    await conn.prepare(sql)
                except asyncpg.PostgresError as exc:
                    failures.append(f"{path.stem}.{name}: {exc}")
    assert count > 100
    assert failures == []
