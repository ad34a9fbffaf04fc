"""The pool's connections: JIT compilation off on a connection that is ours (it spent
0.1-0.7 s compiling console queries at a million subscribers), untouched behind a
transaction pooler (no session state on shared server connections)."""

from __future__ import annotations

import asyncpg

from mailer.db import open_pool


async def test_jit_is_off_on_own_connections_only(pool: asyncpg.Pool, db_url: str) -> None:
    server_default = await (conn := await asyncpg.connect(db_url)).fetchval("SHOW jit")
    await conn.close()
    async with pool.acquire() as first, pool.acquire() as second:
        assert await first.fetchval("SHOW jit") == "off"
        assert await second.fetchval("SHOW jit") == "off"
    shared = await open_pool(db_url, max_size=1, statement_cache=False)
    try:
        assert await shared.fetchval("SHOW jit") == server_default
    finally:
        await shared.close()
