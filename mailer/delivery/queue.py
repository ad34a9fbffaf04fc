"""The per-recipient queue: enqueue, claim under lease, record outcomes in batches."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from mailer.db import Connection, load_queries
from mailer.models import ClaimedDelivery

Q = load_queries("delivery/queue")


async def enqueue_transactional(
    conn: Connection,
    *,
    kind: str,
    recipient: str,
    subscriber_id: int | None,
    payload: dict[str, Any] | None = None,
) -> int:
    """Queue one transactional mail and wake the workers when the caller's transaction
    commits; call it inside the transaction that made the change the mail is about."""
    delivery_id: int = await conn.fetchval(
        Q["enqueue_transactional"], subscriber_id, kind, recipient, payload
    )
    await conn.execute(Q["notify_deliveries"])
    return delivery_id


async def wake_workers(conn: Connection) -> None:
    """Wake the delivery workers when the caller's transaction commits (NOTIFY is delivered
    at commit, once per transaction however often it is called)."""
    await conn.execute(Q["notify_deliveries"])


def _claimed(row: asyncpg.Record) -> ClaimedDelivery:
    payload = row["payload"]
    return ClaimedDelivery(
        delivery_id=row["delivery_id"],
        mailing_id=row["mailing_id"],
        subscriber_id=row["subscriber_id"],
        kind=row["kind"],
        recipient=row["recipient"],
        payload=json.loads(payload) if isinstance(payload, str) else payload,
        item_ids=row["item_ids"],
        topic_ids=row["topic_ids"],
        attempts=row["attempts"],
        created_at=row["created_at"],
        name=row["name"],
        key_version=row["key_version"],
        plain_text_only=bool(row["plain_text_only"]),
        locale=row["locale"],
    )


async def claim_deliveries(
    pool: asyncpg.Pool, *, limit: int, lease_seconds: float, worker: str
) -> tuple[list[ClaimedDelivery], int]:
    """Claim up to `limit` due deliveries, transactional first, then bulk mailings by
    priority. Returns the rows to send and how many were settled as suppressed."""
    claimed: list[ClaimedDelivery] = []
    settled = 0
    async with pool.acquire() as conn:
        rows = await conn.fetch(Q["claim_transactional"], limit, lease_seconds, worker)
        for row in rows:
            if row["status"] == "sending":
                claimed.append(_claimed(row))
            else:
                settled += 1
        if len(rows) < limit:
            for mailing in await conn.fetch(Q["list_sending_mailings"]):
                want = limit - len(rows)
                more = await conn.fetch(
                    Q["claim_bulk"], want, lease_seconds, worker, mailing["mailing_id"]
                )
                rows += more
                for row in more:
                    if row["status"] == "sending":
                        claimed.append(_claimed(row))
                    else:
                        settled += 1
                if len(rows) >= limit:
                    break
    return claimed, settled


async def mark_sent(conn: Connection, sent: Sequence[tuple[int, str]]) -> None:
    if sent:
        await conn.execute(Q["mark_sent"], [d for d, _ in sent], [m for _, m in sent])


async def mark_deferred(conn: Connection, deferred: Sequence[tuple[int, datetime, str]]) -> None:
    if deferred:
        await conn.execute(
            Q["mark_deferred"],
            [d for d, _, _ in deferred],
            [t for _, t, _ in deferred],
            [r for _, _, r in deferred],
        )


async def mark_failed(conn: Connection, failed: Sequence[tuple[int, str]]) -> None:
    if failed:
        await conn.execute(Q["mark_failed"], [d for d, _ in failed], [r for _, r in failed])


async def release_claims(pool: asyncpg.Pool, delivery_ids: Sequence[int], worker: str) -> None:
    """Give back rows this worker claimed but never tried (a graceful stop)."""
    if delivery_ids:
        await pool.execute(Q["release_claims"], list(delivery_ids), worker)


async def expire_leases(pool: asyncpg.Pool) -> int:
    """Return rows whose worker died to the queue; safe to run anywhere, any time."""
    rows = await pool.fetch(Q["expire_leases"])
    if rows:
        await pool.execute(Q["notify_deliveries"])
    return len(rows)
