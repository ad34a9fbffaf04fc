"""Periodic ticks. APScheduler only ticks: every job is idempotent and asks the database
what is due, so several instances may run the same job at once without harm."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import aiohttp
import asyncpg
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from mailer.config import Settings
from mailer.feeds import poll_due
from mailer.signup import purge_pending

log = logging.getLogger(__name__)

_DB_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def schedule_jobs(
    scheduler: AsyncIOScheduler,
    settings: Settings,
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
) -> None:
    async def poll_feeds() -> None:
        try:
            await poll_due(pool, session, allow_private=settings.feed_allow_private)
        except _DB_ERRORS as exc:
            log.warning("polling feeds failed (%s); trying again shortly", exc)

    scheduler.add_job(
        poll_feeds,
        "interval",
        seconds=5,
        next_run_time=datetime.now(UTC),
        id="poll_feeds",
        coalesce=True,
        max_instances=1,
    )

    async def purge() -> None:
        try:
            await purge_pending(pool, settings.pending_purge_days)
        except _DB_ERRORS as exc:
            log.warning("purging unconfirmed signups failed (%s); next hour again", exc)

    scheduler.add_job(
        purge,
        "interval",
        hours=1,
        next_run_time=datetime.now(UTC),
        id="purge_pending",
        coalesce=True,
        max_instances=1,
    )
