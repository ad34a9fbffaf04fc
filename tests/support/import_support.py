"""Running subscriber imports in tests and reading back what they did."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg

from mailer.addresses import address_hash
from mailer.imports.importer import import_subscribers
from mailer.imports.jobs import FileRejects
from mailer.imports.read import ReadOptions, open_import
from mailer.imports.types import ImportOptions, ImportSummary, Mode
from mailer.tokens import Signer
from tests.support.factories import SECRET, engine_settings

TABLES = (
    "subscribers",
    "subscriber_topics",
    "subscriber_series",
    "consent_events",
    "events",
    "suppressions",
    "deliveries",
    "confirmations",
    "topics",
    "subscriber_imports",
)


async def run_import(
    pool: asyncpg.Pool,
    tmp_path: Path,
    text: str | bytes,
    *,
    name: str = "list.csv",
    mode: Mode = Mode.CONSENTED,
    source: str | None = "Old list, double opt-in",
    read: ReadOptions | None = None,
    **changes: Any,
) -> tuple[ImportSummary, list[dict[str, str]]]:
    """Import `text` as a file; returns the summary and the rejects file's rows."""
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    options = replace(ImportOptions(mode=mode, source=source), **changes)
    rejects_path = tmp_path / f"{name}.rejects"
    with open_import(path, read) as opened:
        rejects = FileRejects(rejects_path, opened.format, opened.headers, opened.delimiter)
        summary = await import_subscribers(
            pool,
            Signer(SECRET),
            engine_settings(tmp_path),
            opened,
            options,
            rejects=rejects,
        )
    rows: list[dict[str, str]] = []
    if rejects_path.exists():
        with rejects_path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, delimiter=opened.delimiter or ","))
    return summary, rows


async def subscriber(pool: asyncpg.Pool, email: str) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        "SELECT s.*, ARRAY(SELECT t.slug FROM subscriber_topics x JOIN topics t USING (topic_id)"
        " WHERE x.subscriber_id = s.subscriber_id ORDER BY t.slug) AS topics,"
        " ARRAY(SELECT series_id FROM subscriber_series y WHERE y.subscriber_id = s.subscriber_id)"
        " AS series FROM subscribers s WHERE email_key = lower($1)",
        email,
    )
    return dict(row) if row else None


async def ledger(pool: asyncpg.Pool, email: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT action, occurred_at, source, topics, detail, host(ip) AS ip FROM consent_events"
        " WHERE email_hash = $1 ORDER BY consent_event_id",
        address_hash(email),
    )
    return [dict(r) for r in rows]


async def events_of(pool: asyncpg.Pool, subscriber_id: int) -> list[str]:
    rows = await pool.fetch(
        "SELECT type FROM events WHERE subject = 'subscriber' AND subject_id = $1"
        " ORDER BY event_id",
        subscriber_id,
    )
    return [r["type"] for r in rows]


async def counts(pool: asyncpg.Pool) -> dict[str, int]:
    return {table: await pool.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES}


async def add_subscriber(
    pool: asyncpg.Pool, email: str, status: str, *, name: str | None = None, **times: Any
) -> int:
    subscriber_id: int = await pool.fetchval(
        "INSERT INTO subscribers (email, email_key, name, status, confirmed_at, unsubscribed_at)"
        " VALUES ($1, lower($1), $2, $3, $4, $5) RETURNING subscriber_id",
        email,
        name,
        status,
        times.get("confirmed_at"),
        times.get("unsubscribed_at"),
    )
    return subscriber_id


async def suppress(pool: asyncpg.Pool, email: str, reason: str) -> None:
    await pool.execute(
        "INSERT INTO suppressions (email_hash, reason) VALUES ($1, $2)", address_hash(email), reason
    )
