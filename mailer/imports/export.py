"""Taking subscribers out: CSV or JSON Lines, streamed from a server-side cursor.

The export reads as an import: `mailer subscribers import` maps every column back (status,
topics, consent time, signup time), so export -> import gives the same subscribers.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Any

import asyncpg

from mailer.audience.search import resolve_filters, subscriber_json
from mailer.db import load_queries
from mailer.errors import InvalidInput

Q = load_queries("imports/export")

COLUMNS = [
    "subscriber_id",
    "email",
    "name",
    "status",
    "topics",
    "locale",
    "source",
    "created_at",
    "confirmed_at",
    "unsubscribed_at",
]
# A cell a spreadsheet would run as a formula gets a leading quote (OWASP's advice); the
# importer drops it again, so a round trip keeps the value.
_FORMULA = re.compile(r"^[=+\-@\t\r]")


class ExportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"

    @property
    def content_type(self) -> str:
        return "text/csv" if self is ExportFormat.CSV else "application/x-ndjson"


def parse_format(text: str | None) -> ExportFormat:
    try:
        return ExportFormat((text or "csv").lower())
    except ValueError as exc:
        raise InvalidInput("invalid format", {"format": "csv or jsonl"}) from exc


def _guard(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if _FORMULA.match(text) else text


def _csv_cells(row: asyncpg.Record) -> list[str]:
    data = subscriber_json(row)
    data["topics"] = ", ".join(data["topics"])
    return [_guard(data[column]) for column in COLUMNS]


async def export_subscribers(
    pool: asyncpg.Pool,
    fmt: ExportFormat,
    *,
    status: str | None = None,
    topic: str | None = None,
    batch: int = 1000,
) -> AsyncIterator[bytes]:
    """Check the filters (InvalidInput before anything is produced), then stream the
    file in pieces of about `batch` rows from one consistent snapshot."""
    checked_status, topic_id = await resolve_filters(pool, status, topic)

    async def pieces() -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        if fmt is ExportFormat.CSV:
            buffer.write("\ufeff")  # Excel reads UTF-8 only with a BOM; the importer skips it
            writer.writerow(COLUMNS)
        count = 0
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            await conn.execute(Q["no_jit"])
            cursor = conn.cursor(Q["export_subscribers"], checked_status, topic_id, prefetch=batch)
            async for row in cursor:
                if fmt is ExportFormat.CSV:
                    writer.writerow(_csv_cells(row))
                else:
                    buffer.write(json.dumps(subscriber_json(row), ensure_ascii=False) + "\n")
                count += 1
                if count % batch == 0:
                    yield buffer.getvalue().encode()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue().encode()

    return pieces()
