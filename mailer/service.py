"""`mailer serve`: the web app, the scheduler and the delivery workers in one event loop."""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from enum import StrEnum

import asyncpg
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from mailer.app import create_app
from mailer.config import Settings, SmtpSettings
from mailer.db import open_pool
from mailer.embedded import start_dev_smtp_sink, start_embedded_postgres
from mailer.errors import StartupError
from mailer.migrate import apply_migrations
from mailer.resources import migrations_dir

log = logging.getLogger(__name__)

# How long in-flight work may take to finish after SIGTERM before it is abandoned.
SHUTDOWN_GRACE_SECONDS = 20.0


class Role(StrEnum):
    ALL = "all"
    WEB = "web"
    WORKER = "worker"

    @property
    def runs_web(self) -> bool:
        return self in (Role.ALL, Role.WEB)

    @property
    def runs_worker(self) -> bool:
        return self in (Role.ALL, Role.WORKER)


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


async def run_service(settings: Settings, role: Role, stop: asyncio.Event) -> None:
    """Run until `stop` is set, then shut down in reverse order of start-up.

    The web server stops taking requests first, then the workers finish what they
    hold, then the pool closes (and the embedded database stops, if we started it).
    """
    async with AsyncExitStack() as stack:
        pool, _database_url = await stack.enter_async_context(open_database(settings))
        smtp = settings.smtp
        if role.runs_worker:
            if smtp is None:
                sink = await start_dev_smtp_sink(settings.data_dir)
                stack.push_async_callback(sink.close)
                smtp = SmtpSettings(host=sink.host, port=sink.port)
            scheduler = AsyncIOScheduler(timezone="UTC")
            scheduler.start()
            stack.callback(scheduler.shutdown, wait=False)
        if role.runs_web:
            await _start_web(stack, settings, pool)
        log.info("mailer is running (role %s); stop with Ctrl-C or SIGTERM", role.value)
        await stop.wait()
        log.info("shutting down")
    log.info("stopped")


async def _start_web(stack: AsyncExitStack, settings: Settings, pool: asyncpg.Pool) -> None:
    runner = web.AppRunner(
        create_app(settings, pool), access_log=logging.getLogger("aiohttp.access")
    )
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(
        runner,
        settings.listen_host,
        settings.listen_port,
        shutdown_timeout=SHUTDOWN_GRACE_SECONDS,
    )
    where = f"{settings.listen_host}:{settings.listen_port}"
    try:
        await site.start()
    except OSError as exc:
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise StartupError(f"cannot listen on {where}: {reason}") from exc
    log.info("web server on http://%s, public URL %s", where, settings.base_url)
