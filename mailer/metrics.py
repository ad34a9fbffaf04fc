"""Prometheus metrics, kept in a registry of our own (no process-global state).

Two kinds: counters and histograms this process updates as it works (requests, sends,
polls, ticks, webhook attempts), and gauges read from the database at scrape time
(`refresh`), which are the same on every replica: aggregate those with max(), not sum().
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import asyncpg
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
)
from prometheus_client.exposition import generate_latest

from mailer.db import DB_ERRORS, load_queries

Q = load_queries("metrics")

DELIVERY_OUTCOMES = ("sent", "deferred", "failed", "suppressed")
QUEUE_STATES = ("queued", "deferred", "sending")
BOUNCE_KINDS = ("hard", "soft", "block", "complaint")
FEED_STATES = ("ok", "failing", "paused")
REPLY_CLASSES = ("2xx", "4xx", "5xx", "none")

# The queue's gauge reads every waiting delivery's row (about 1 s for a million on the
# development machine): at most one read per process in this many seconds.
REFRESH_SECONDS = 10.0
_SCRAPE_ERRORS: tuple[type[BaseException], ...] = (*DB_ERRORS, TimeoutError)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def reply_class(code: int | None) -> str:
    """An SMTP reply code as its class; `none` when no reply came (connection, timeout)."""
    if code is None or not 200 <= code < 600:
        return "none"
    return f"{code // 100}xx" if code // 100 in (2, 4, 5) else "none"


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry = registry or CollectorRegistry()
        ProcessCollector(registry=registry)  # process_cpu_seconds_total, memory, fds, start time

        # HTTP
        self.http_requests = Counter(
            "mailer_http_requests",
            "HTTP requests by route pattern (never the concrete path), method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.http_seconds = Histogram(
            "mailer_http_request_duration_seconds",
            "Time from a request's arrival to its response, by route pattern and method.",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )

        # Each (route, method, status)'s series, looked up once: labels() costs more than
        # the increment itself, once per request.
        self._http_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

        # Delivery
        self.deliveries = Counter(
            "mailer_deliveries",
            "Delivery attempts by outcome (sent, deferred, failed, suppressed).",
            ["outcome"],
            registry=registry,
        )
        # Every label value from the start, at 0: a series that appears only with its first
        # failure makes rate() and "failed > 0" alerts miss it.
        for outcome in DELIVERY_OUTCOMES:
            self.deliveries.labels(outcome)
        self.smtp_seconds = Histogram(
            "mailer_smtp_send_seconds",
            "Time of one SMTP transaction (MAIL, RCPT, DATA) on a pooled connection.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.smtp_replies = Counter(
            "mailer_smtp_replies",
            "SMTP transactions by the class of the relay's reply (none: no reply came).",
            ["reply_class"],
            registry=registry,
        )
        for cls in REPLY_CLASSES:
            self.smtp_replies.labels(cls)
        self.claimed = Counter(
            "mailer_claimed_deliveries", "Deliveries claimed by this worker.", registry=registry
        )
        self.requeued = Counter(
            "mailer_requeued_deliveries",
            "Deliveries returned to the queue after a lost worker's lease expired.",
            registry=registry,
        )

        # Feeds, scheduler, outbound webhooks
        self.feed_polls = Counter(
            "mailer_feed_polls",
            "Feed polls by outcome (ok, error).",
            ["outcome"],
            registry=registry,
        )
        for outcome in ("ok", "error"):
            self.feed_polls.labels(outcome)
        self.scheduler_runs = Counter(
            "mailer_scheduler_runs",
            "Scheduler ticks run, by job and outcome (ok, error).",
            ["job", "outcome"],
            registry=registry,
        )
        self.scheduler_lag = Gauge(
            "mailer_scheduler_lag_seconds",
            "How late the job's last tick started after it was due.",
            ["job"],
            registry=registry,
        )
        self.scheduler_last_success = Gauge(
            "mailer_scheduler_last_success_timestamp_seconds",
            "When the job last finished without error (Unix time).",
            ["job"],
            registry=registry,
        )
        self.webhook_attempts = Counter(
            "mailer_webhook_attempts",
            "Outbound webhook requests by outcome (delivered, failed).",
            ["outcome"],
            registry=registry,
        )
        for outcome in ("delivered", "failed"):
            self.webhook_attempts.labels(outcome)

        # Read from the database at scrape time
        self.database_seconds = Gauge(
            "mailer_metrics_database_seconds",
            "How long the last read of the database-wide gauges took (its cost to the database).",
            registry=registry,
        )
        self._read_at = -math.inf  # monotonic time of the last read of the database
        self._reading: asyncio.Lock | None = None
        self.database_up = Gauge(
            "mailer_metrics_database_up",
            "1 when the last scrape could read the database-wide gauges, else 0.",
            registry=registry,
        )
        self.queue_depth = Gauge(
            "mailer_queue_depth",
            "Deliveries waiting or in flight, by priority and state (database-wide).",
            ["priority", "state"],
            registry=registry,
        )
        self.queue_oldest = Gauge(
            "mailer_queue_oldest_age_seconds",
            "Age of the oldest delivery in that priority and state (database-wide).",
            ["priority", "state"],
            registry=registry,
        )
        self.bounces_last_hour = Gauge(
            "mailer_bounces_last_hour",
            "Bounces and complaints recorded in the last hour, by kind (database-wide).",
            ["kind"],
            registry=registry,
        )
        self.feed_sources = Gauge(
            "mailer_feed_sources",
            "Polled feeds by state: ok, failing (last poll failed), paused (database-wide).",
            ["state"],
            registry=registry,
        )
        self.webhooks_pending = Gauge(
            "mailer_webhook_deliveries_pending",
            "Outbound webhook deliveries not yet delivered (database-wide).",
            registry=registry,
        )
        self.webhooks_retrying = Gauge(
            "mailer_webhook_deliveries_retrying",
            "Pending outbound webhook deliveries whose earlier attempts failed (database-wide).",
            registry=registry,
        )
        self.webhook_endpoints_failing = Gauge(
            "mailer_webhook_endpoints_failing",
            "Active webhook endpoints whose last round failed (database-wide).",
            registry=registry,
        )
        self.pool_connections = Gauge(
            "mailer_db_pool_connections",
            "This process's database pool: connections in use and idle.",
            ["state"],
            registry=registry,
        )
        self.pool_max = Gauge(
            "mailer_db_pool_max_connections",
            "The most connections this process's pool may open.",
            registry=registry,
        )

    def http_observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered request (route pattern, method, status) and its duration."""
        series = self._http_series.get((route, method, status))
        if series is None:
            if len(self._http_series) > 10_000:  # bounded like the label values themselves
                self._http_series.clear()
            series = self._http_series[route, method, status] = (
                self.http_requests.labels(route, method, str(status)),
                self.http_seconds.labels(route, method),
            )
        series[0].inc()
        series[1].observe(seconds)

    def observe_pool(self, pool: asyncpg.Pool) -> None:
        size, idle = pool.get_size(), pool.get_idle_size()
        self.pool_connections.labels("in_use").set(size - idle)
        self.pool_connections.labels("idle").set(idle)
        self.pool_max.set(pool.get_max_size())

    async def refresh(
        self, pool: asyncpg.Pool, *, timeout: float = 5.0, max_age: float = REFRESH_SECONDS
    ) -> None:
        """Read the database-wide gauges (a few queries on one connection), unless they were
        read less than `max_age` seconds ago: scrapes that come together, or from several
        Prometheus servers, share one read. A database that does not answer leaves them as
        they were and sets database_up to 0."""
        self.observe_pool(pool)
        if self._reading is None:
            self._reading = asyncio.Lock()
        async with self._reading:
            if time.monotonic() - self._read_at < max_age:
                return
            started = time.monotonic()
            await self._read(pool, timeout)
            self._read_at = time.monotonic()
            self.database_seconds.set(self._read_at - started)

    async def _read(self, pool: asyncpg.Pool, timeout: float) -> None:
        try:
            async with pool.acquire(timeout=timeout) as conn:
                queue = await conn.fetch(Q["queue_depth"], timeout=timeout)
                bounces = await conn.fetch(Q["recent_bounces"], timeout=timeout)
                feeds = await conn.fetch(Q["feed_states"], timeout=timeout)
                hooks = await conn.fetchrow(Q["hook_backlog"], timeout=timeout)
        except _SCRAPE_ERRORS:
            self.database_up.set(0)
            return
        self.database_up.set(1)
        # A priority whose mailings finished disappears; the standing ones show 0.
        self.queue_depth.clear()
        self.queue_oldest.clear()
        for state in QUEUE_STATES:
            self.queue_depth.labels("transactional", state).set(0)
            self.queue_oldest.labels("transactional", state).set(0)
        for row in queue:
            self.queue_depth.labels(row["priority"], row["status"]).set(row["n"])
            self.queue_oldest.labels(row["priority"], row["status"]).set(row["oldest"])
        counts = {row["kind"]: row["n"] for row in bounces}
        for kind in BOUNCE_KINDS:
            self.bounces_last_hour.labels(kind).set(counts.get(kind, 0))
        states = {row["state"]: row["n"] for row in feeds}
        for state in FEED_STATES:
            self.feed_sources.labels(state).set(states.get(state, 0))
        if hooks is not None:
            self.webhooks_pending.set(hooks["pending"])
            self.webhooks_retrying.set(hooks["retrying"])
            self.webhook_endpoints_failing.set(hooks["failing_endpoints"])

    def record_tick(self, job: str, *, due: float, started: float, ok: bool) -> None:
        """One scheduler tick: its lag (start minus due, Unix times) and its outcome."""
        self.scheduler_lag.labels(job).set(max(0.0, started - due))
        self.scheduler_runs.labels(job, "ok" if ok else "error").inc()
        if ok:
            self.scheduler_last_success.labels(job).set(time.time())

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
