"""The database every command and `mailer serve` open: the configured one, or the embedded
PostgreSQL in development; migrated before use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import asyncpg

from mailer.config import Settings
from mailer.db import open_pool
from mailer.embedded import start_embedded_postgres
from mailer.errors import StartupError
from mailer.migrate import apply_migrations
from mailer.resources import migrations_dir


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[tuple[asyncpg.Pool, str]]:
    """The configured database, or the embedded one in development; migrated."""
    async with AsyncExitStack() as stack:
        url = settings.database_url
        if url is None:
            if settings.is_production:
                raise StartupError("MAILER_DATABASE_URL is required in production")
            embedded = await start_embedded_postgres(settings.data_dir)
            stack.callback(embedded.stop)
            url = embedded.url
        pool = await open_pool(url)
        stack.push_async_callback(pool.close)
        async with pool.acquire() as conn:
            await apply_migrations(conn, migrations_dir())
        yield pool, url
