"""A bulk mailing sent to every active subscriber: what tests and benchmarks use to fill
the queue without a series, built from the blocks digests and alerts use in production."""

from __future__ import annotations

import asyncpg

from mailer.delivery import mailings, queue
from mailer.errors import Conflict, NotFound
from mailer.events import record_event

# One row per active, unpaused subscriber, at the moment sending starts.
FAN_OUT_TO_ACTIVE = """
INSERT INTO deliveries (mailing_id, subscriber_id, kind, recipient)
SELECT $1, s.subscriber_id, $2, s.email
FROM subscribers s
WHERE s.status = 'active' AND (s.paused_until IS NULL OR s.paused_until <= now())
"""

GET_DELIVERY = """
SELECT delivery_id, mailing_id, subscriber_id, kind, recipient, status, attempts,
       next_attempt_at, last_reply, message_id, created_at, sent_at, finished_at
FROM deliveries WHERE delivery_id = $1
"""


async def start_sending(pool: asyncpg.Pool, mailing_id: int) -> int:
    """draft/scheduled -> sending and the fan-out, in one transaction; of several callers
    racing, one wins and the others get Conflict. Returns the deliveries made."""
    async with pool.acquire() as conn, conn.transaction():
        kind = await mailings.begin_sending(conn, mailing_id)
        if kind is None:
            status = await conn.fetchval(
                "SELECT status FROM mailings WHERE mailing_id = $1", mailing_id
            )
            if status is None:
                raise NotFound(f"mailing {mailing_id} does not exist")
            raise Conflict(f"cannot start sending mailing {mailing_id}: it is {status}")
        created = await mailings.fan_out(conn, FAN_OUT_TO_ACTIVE, mailing_id, kind)
        await record_event(conn, f"{kind}.sending", kind, mailing_id, {"mailing_id": mailing_id})
        await queue.wake_workers(conn)
    return created


async def get_delivery(pool: asyncpg.Pool, delivery_id: int) -> asyncpg.Record | None:
    return await pool.fetchrow(GET_DELIVERY, delivery_id)
