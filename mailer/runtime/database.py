"""The database every command and `mailer serve` open: the configured one, or the embedded
PostgreSQL in development; migrated before use. Behind a pooler in transaction mode
(MAILER_DATABASE_POOLER) the pool keeps no prepared-statement cache and LISTEN goes to
MAILER_DATABASE_LISTEN_URL, or nowhere (the delivery worker polls)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import asyncpg

from mailer.config import Settings
from mailer.config_values import Pooler
from mailer.db import behind_transaction_pooler, describe_target, open_pool
from mailer.embedded import start_embedded_postgres
from mailer.errors import DatabaseUnavailable, StartupError
from mailer.migrate import apply_migrations
from mailer.resources import migrations_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """Where the pool connects, how, and where the delivery worker LISTENs (None: polls)."""

    url: str
    pooler: Pooler  # NONE or TRANSACTION, never DETECT
    listen_url: str | None


@asynccontextmanager
async def open_database(
    settings: Settings, *, listen: bool = False
) -> AsyncIterator[tuple[asyncpg.Pool, Target]]:
    """The configured database, or the embedded one in development; migrated. With
    `listen` (the processes that run a delivery worker) MAILER_DATABASE_LISTEN_URL is
    checked at start: reachable, and not itself a transaction pooler."""
    async with AsyncExitStack() as stack:
        url = settings.database_url
        pooler = settings.database_pooler
        if url is None:
            if settings.is_production:
                raise StartupError("MAILER_DATABASE_URL is required in production")
            embedded = await start_embedded_postgres(settings.data_dir)
            stack.callback(embedded.stop)
            url = embedded.url
            pooler = Pooler.NONE
        elif pooler is Pooler.DETECT:
            pooler = Pooler.TRANSACTION if await behind_transaction_pooler(url) else Pooler.NONE
            if pooler is Pooler.TRANSACTION:
                log.info(
                    "the database at %s is reached through a pooler in transaction mode "
                    "(detected; set MAILER_DATABASE_POOLER=transaction to say so)",
                    describe_target(url),
                )
        listen_url = settings.database_listen_url
        if listen_url is None and pooler is Pooler.NONE:
            listen_url = url
        elif listen_url is not None and listen:
            await _check_listen_url(listen_url)
        pool = await open_pool(
            url,
            max_size=settings.database_pool_size,
            statement_cache=pooler is Pooler.NONE,
        )
        stack.push_async_callback(pool.close)
        async with pool.acquire() as conn:
            await apply_migrations(conn, migrations_dir())
        yield pool, Target(url, pooler, listen_url)


async def _check_listen_url(url: str) -> None:
    where = describe_target(url)
    try:
        pooled = await behind_transaction_pooler(url)
    except DatabaseUnavailable as exc:
        raise StartupError(f"MAILER_DATABASE_LISTEN_URL: {exc}") from exc
    if pooled:
        raise StartupError(
            f"MAILER_DATABASE_LISTEN_URL ({where}) goes through a pooler in transaction mode, "
            "where LISTEN hears nothing: point it at PostgreSQL itself"
        )
