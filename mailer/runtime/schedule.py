"""Periodic ticks. APScheduler only ticks: every job is idempotent and asks the database
what is due, so several instances may run the same job at once without harm."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
import asyncpg
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from mailer.audience.signup import purge_pending
from mailer.config import Settings
from mailer.content.feeds import poll_due
from mailer.db import DB_ERRORS
from mailer.delivery.retention import purge_expired
from mailer.editorial import repermission
from mailer.editorial.counts import COUNTS_MAX_AGE, recount_audience
from mailer.editorial.digests import send_due, tick_series
from mailer.feedback.click_reports import publisher, report_yesterday
from mailer.feedback.deliverability import ThresholdWatch, purge_old_reports
from mailer.metrics import Metrics

log = logging.getLogger(__name__)


class Ticks:
    """The scheduler plus the jobs it is running, so that a shutdown stops new ticks and
    then waits for the running ones before the pool and the HTTP session close."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.metrics = metrics or Metrics()
        self._running: set[asyncio.Future[None]] = set()
        self._stopping = False

    def every(self, seconds: float, name: str, job: Callable[[], Awaitable[object]]) -> None:
        metrics = self.metrics
        for outcome in ("ok", "error"):
            metrics.scheduler_runs.labels(name, outcome)
        # When the next tick should start: one interval after the last one started. A tick
        # that starts later (the loop was busy, or the last tick overran) shows as lag.
        due = time.time()

        async def guarded() -> None:
            nonlocal due
            started = time.time()
            ok = False
            try:
                await job()
                ok = True
            except DB_ERRORS as exc:
                log.warning("%s failed (%s); it runs again shortly", name, exc)
            finally:
                metrics.record_tick(name, due=due, started=started, ok=ok)
                due = started + seconds

        async def tracked() -> None:
            # The work runs in a task of its own: APScheduler's shutdown cancels the coroutine
            # it awaits (and logs that with a traceback), while stop() lets a tick in flight,
            # such as a feed poll, finish before the pool closes.
            work = asyncio.ensure_future(guarded())
            self._running.add(work)
            work.add_done_callback(self._running.discard)
            try:
                await asyncio.shield(work)
            except asyncio.CancelledError:
                if not self._stopping:
                    raise

        self.scheduler.add_job(
            tracked,
            "interval",
            seconds=seconds,
            next_run_time=datetime.now(UTC),
            id=name,
            coalesce=True,
            max_instances=1,
        )

    def start(self) -> None:
        self.scheduler.start()

    async def stop(self, grace: float = 20.0) -> None:
        self._stopping = True
        self.scheduler.shutdown(wait=False)
        if self._running:
            await asyncio.wait(set(self._running), timeout=grace)


def schedule_jobs(
    ticks: Ticks, settings: Settings, pool: asyncpg.Pool, session: aiohttp.ClientSession
) -> None:
    async def digests_tick() -> None:
        now = datetime.now(UTC)
        await tick_series(pool, settings, now=now)
        await send_due(pool, settings, now=now)

    async def poll_feeds() -> None:
        results = await poll_due(
            pool,
            session,
            allow_private=settings.feed_allow_private,
            trusted=settings.feed_trusted_urls,
        )
        for result in results:
            ticks.metrics.feed_polls.labels("ok" if result.error is None else "error").inc()

    async def purge() -> None:
        await purge_pending(pool, settings.pending_purge_days)

    ticks.every(10, "bounce_thresholds", ThresholdWatch(pool, settings.bounces).check)
    ticks.every(3600, "purge_bounce_reports", lambda: purge_old_reports(pool, settings.bounces))
    ticks.every(5, "digests_tick", digests_tick)

    async def repermission_tick() -> None:
        await repermission.send_due(pool, settings, now=datetime.now(UTC))

    ticks.every(30, "repermission_due", repermission_tick)
    ticks.every(5, "poll_feeds", poll_feeds)
    ticks.every(3600, "purge_pending", purge)
    # Subscribers per topic and series for the console, kept at most this old.
    ticks.every(COUNTS_MAX_AGE, "audience_counts", lambda: recount_audience(pool))

    async def retention() -> None:
        await purge_expired(
            pool,
            deliveries_days=settings.retain_deliveries_days,
            events_days=settings.retain_events_days,
            now=datetime.now(UTC),
        )

    ticks.every(3600, "retention", retention)

    async def clicks_daily() -> None:
        # Yesterday's (UTC) click totals as one `clicks.daily` event; the first tick after
        # midnight does it, the others find the day reported (click_reports table).
        await report_yesterday(pool, publisher(settings), datetime.now(UTC).date())

    ticks.every(300, "clicks_daily", clicks_daily)
