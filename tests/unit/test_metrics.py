import asyncio

import asyncpg
from prometheus_client.exposition import generate_latest

from mailer.metrics import Metrics, reply_class
from mailer.runtime.schedule import Ticks


def test_every_delivery_outcome_is_exposed_from_the_start() -> None:
    """A counter series that appears only with the first failure is one an alert misses."""
    text = generate_latest(Metrics().registry).decode()
    for outcome in ("sent", "deferred", "failed", "suppressed"):
        assert f'mailer_deliveries_total{{outcome="{outcome}"}} 0.0' in text


def test_smtp_replies_are_counted_by_class() -> None:
    assert [reply_class(c) for c in (250, 421, 450, 550, 554, None, 999, 354)] == [
        "2xx",
        "4xx",
        "4xx",
        "5xx",
        "5xx",
        "none",
        "none",
        "none",
    ]


async def test_a_tick_that_overruns_its_interval_shows_as_lag_and_failures_are_counted() -> None:
    metrics = Metrics()
    ticks = Ticks(metrics)

    async def slow() -> None:
        await asyncio.sleep(0.4)  # four times its interval: every next tick starts late

    async def broken() -> None:
        raise asyncpg.exceptions.ConnectionDoesNotExistError("gone")

    ticks.every(0.1, "slow", slow)
    ticks.every(0.1, "broken", broken)
    ticks.start()
    try:
        for _ in range(60):
            await asyncio.sleep(0.05)
            runs = metrics.registry.get_sample_value(
                "mailer_scheduler_runs_total", {"job": "slow", "outcome": "ok"}
            )
            if runs and runs >= 3:
                break
    finally:
        await ticks.stop(grace=2)
    get = metrics.registry.get_sample_value
    assert (get("mailer_scheduler_runs_total", {"job": "slow", "outcome": "ok"}) or 0) >= 3
    assert (get("mailer_scheduler_lag_seconds", {"job": "slow"}) or 0) >= 0.2
    assert (get("mailer_scheduler_runs_total", {"job": "broken", "outcome": "error"}) or 0) >= 1
    assert get("mailer_scheduler_runs_total", {"job": "broken", "outcome": "ok"}) == 0
    assert get("mailer_scheduler_last_success_timestamp_seconds", {"job": "broken"}) is None
    assert (get("mailer_scheduler_last_success_timestamp_seconds", {"job": "slow"}) or 0) > 0
