"""Every named query in mailer/sql/*.sql prepares against the migrated schema (a typo or a
renamed column fails here, not in production)."""

from __future__ import annotations

import asyncpg
import pytest

from mailer.db import SQL_DIR, load_queries

CONCERNS = sorted(path.stem for path in SQL_DIR.glob("*.sql"))


@pytest.mark.parametrize("concern", CONCERNS)
async def test_queries_prepare(pool: asyncpg.Pool, concern: str) -> None:
    async with pool.acquire() as conn:
        for name, query in load_queries(concern).items():
            try:
                await conn.prepare(query)
            except asyncpg.PostgresError as exc:
                pytest.fail(f"{concern}.sql {name}: {exc}")
