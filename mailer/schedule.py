"""Periodic ticks. APScheduler only ticks: every job is idempotent and asks the database
what is due, so several instances may run the same job at once without harm."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import asyncpg
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from mailer.config import Settings
from mailer.signup import purge_pending

log = logging.getLogger(__name__)

_DB_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def schedule_jobs(scheduler: AsyncIOScheduler, settings: Settings, pool: asyncpg.Pool) -> None:
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
