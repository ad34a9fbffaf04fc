"""Building blocks for engine tests: subscribers in bulk, a running worker, settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg

from mailer.addresses import address_key
from mailer.config import Settings, SmtpSettings, load_settings
from mailer.delivery.compose import Composer
from mailer.delivery.mailings import create_mailing
from mailer.delivery.sender import DeliveryWorker
from mailer.demo.content import sample_digest_content
from mailer.feedback.policy import bounce_recorder
from mailer.metrics import Metrics
from mailer.runtime.mail_kinds import standard_slot_providers
from tests.support.smtp_sink import SmtpSink

FIXTURE_TEMPLATES = Path(__file__).parents[1] / "fixtures" / "templates"
SECRET = "test-secret-key-0123456789-abcdefghij"


def engine_settings(tmp_path: Path, **changes: Any) -> Settings:
    base = load_settings(
        {
            "MAILER_SECRET_KEY": SECRET,
            "MAILER_FROM": "Health News <news@health.example.org>",
            "MAILER_POSTAL_ADDRESS": "1 Main St, Springfield",
            "MAILER_BASE_URL": "https://news.example.org",
            "MAILER_DATA_DIR": str(tmp_path),
        },
        dotenv=False,
    )
    defaults: dict[str, Any] = {
        "retry_base_seconds": 0.2,
        "retry_max_delay_seconds": 1.0,
        "lease_seconds": 30.0,
        "smtp_concurrency": 4,
        "claim_batch": 50,
    }
    return replace(base, **{**defaults, **changes})


async def add_subscribers(
    pool: asyncpg.Pool, count: int, *, status: str = "active", prefix: str = "reader"
) -> list[int]:
    """`count` subscribers reader0@example.org... in one COPY; returns their ids in order."""
    records = [
        (f"{prefix}{i}@example.org", address_key(f"{prefix}{i}@example.org"), f"Reader {i}", status)
        for i in range(count)
    ]
    async with pool.acquire() as conn, conn.transaction():
        await conn.copy_records_to_table(
            "subscribers", records=records, columns=["email", "email_key", "name", "status"]
        )
        rows = await conn.fetch(
            "SELECT subscriber_id FROM subscribers WHERE email LIKE $1 ORDER BY subscriber_id",
            f"{prefix}%",
        )
    return [row["subscriber_id"] for row in rows]


async def digest_mailing(pool: asyncpg.Pool, items_per_topic: int = 1) -> int:
    async with pool.acquire() as conn:
        return await create_mailing(
            conn,
            kind="digest",
            subject="Weekly public health news",
            list_id="Weekly news <weekly.news.example.org>",
            content=sample_digest_content(items_per_topic),
        )


@asynccontextmanager
async def running_worker(
    pool: asyncpg.Pool,
    db_url: str,
    sink: SmtpSink,
    settings: Settings,
    **options: Any,
) -> AsyncIterator[DeliveryWorker]:
    """A DeliveryWorker in this event loop, stopped gracefully on exit."""
    smtp = SmtpSettings(host=sink.host, port=sink.port)
    composer = Composer(
        pool,
        settings,
        template_dirs=[FIXTURE_TEMPLATES, Path("templates")],
        slot_providers=standard_slot_providers(settings),
    )
    worker = DeliveryWorker(
        pool,
        settings,
        smtp,
        database_url=db_url,
        composer=composer,
        metrics=Metrics(),
        record_bounces=bounce_recorder(settings.bounces),
        **options,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def wait_until(predicate: Any, timeout: float = 15.0, interval: float = 0.05) -> None:
    """Poll an async predicate until it holds (or fail with the timeout)."""
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(interval)


async def statuses(pool: asyncpg.Pool, mailing_id: int | None = None) -> dict[str, int]:
    rows = await pool.fetch(
        "SELECT status, count(*) AS n FROM deliveries "
        "WHERE mailing_id IS NOT DISTINCT FROM $1 GROUP BY status",
        mailing_id,
    )
    return {row["status"]: row["n"] for row in rows}
