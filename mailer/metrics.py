"""Prometheus metrics, kept in a registry of our own (no process-global state)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

DELIVERY_OUTCOMES = ("sent", "deferred", "failed", "suppressed")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.deliveries = Counter(
            "mailer_deliveries",
            "Delivery attempts by outcome (sent, deferred, failed, suppressed).",
            ["outcome"],
            registry=self.registry,
        )
        # Every outcome from the start, at 0: a series that appears only with its first
        # failure makes rate() and "failed > 0" alerts miss it.
        for outcome in DELIVERY_OUTCOMES:
            self.deliveries.labels(outcome)
        self.smtp_seconds = Histogram(
            "mailer_smtp_send_seconds",
            "Time of one SMTP transaction (MAIL, RCPT, DATA) on a pooled connection.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "mailer_queue_depth",
            "Deliveries queued or deferred, as last counted by this worker.",
            registry=self.registry,
        )
        self.claimed = Counter(
            "mailer_claimed_deliveries",
            "Deliveries claimed by this worker.",
            registry=self.registry,
        )
        self.requeued = Counter(
            "mailer_requeued_deliveries",
            "Deliveries returned to the queue after a lost worker's lease expired.",
            registry=self.registry,
        )

    async def handler(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
