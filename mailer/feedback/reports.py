"""Reading what came back: recorded bounces, and the received reports (DSNs, ARF, provider
webhooks) kept raw with what was decided about each."""

from __future__ import annotations

from typing import Any

import asyncpg

from mailer.db import load_queries, record_json
from mailer.errors import NotFound

Q = load_queries("feedback/feedback")


async def list_bounces(
    pool: asyncpg.Pool,
    *,
    subscriber_id: int | None = None,
    mailing_id: int | None = None,
    kind: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Bounces newest first, filtered; `before` is a bounce id (the next page)."""
    rows = await pool.fetch(Q["list_bounces"], subscriber_id, mailing_id, kind, before, limit)
    return [record_json(r) for r in rows]


async def list_reports(
    pool: asyncpg.Pool, *, status: str | None = None, before: int | None = None, limit: int = 50
) -> list[asyncpg.Record]:
    """Received reports newest first; `status` unparseable, unmatched or refused picks what
    needs a human."""
    return await pool.fetch(Q["list_reports"], status, before, limit)


async def get_report(pool: asyncpg.Pool, report_id: int) -> dict[str, Any]:
    """One report with its raw message as text (undecodable bytes replaced)."""
    row = await pool.fetchrow(Q["get_report"], report_id)
    if row is None:
        raise NotFound(f"report {report_id} does not exist")
    data = record_json(row)
    data["raw"] = (row["raw"] or b"").decode("utf-8", errors="replace")
    return data
