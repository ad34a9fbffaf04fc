"""Editors' view of suppressions: list them, add one by hand, lift one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from mailer.addresses import address_hash, address_key
from mailer.db import load_queries
from mailer.errors import Conflict, InvalidInput, NotFound
from mailer.events import record_event
from mailer.feedback.bounces import suppress
from mailer.models import Bounce

Q = load_queries("feedback/feedback")

REASONS = ("hard_bounce", "soft_bounce", "complaint", "erased", "manual")


def _row(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "email": row["email"],  # known while the subscriber exists; never for erased people
        "email_hash": row["email_hash"].hex(),
        "reason": row["reason"],
        "detail": row["detail"],
        "created_at": row["created_at"].isoformat(),
        "subscriber_id": row["subscriber_id"] if row["email"] else None,
        "subscriber_status": row["status"],
    }


async def list_suppressions(
    pool: asyncpg.Pool, *, reason: str | None = None, cursor: str | None = None, limit: int = 50
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; the second value is the cursor of the next page (None at the end)."""
    if reason is not None and reason not in REASONS:
        raise InvalidInput("invalid reason", {"reason": f"one of {', '.join(REASONS)}"})
    after_time: datetime | None = None
    after_hash: bytes | None = None
    if cursor:
        micros, _, digest = cursor.partition("-")
        try:
            after_time = datetime.fromtimestamp(int(micros) / 1e6, UTC)
            after_hash = bytes.fromhex(digest)
        except (ValueError, OverflowError) as exc:
            raise InvalidInput("invalid cursor", {"cursor": "use next_cursor as given"}) from exc
    rows = await pool.fetch(Q["list_suppressions"], reason, after_time, after_hash, limit)
    found = [_row(r) for r in rows]
    next_cursor = None
    if len(rows) == limit:
        last = rows[-1]
        micros = round(last["created_at"].timestamp() * 1e6)
        next_cursor = f"{micros}-{last['email_hash'].hex()}"
    return found, next_cursor


async def lift(pool: asyncpg.Pool, email: str, *, by: str) -> dict[str, Any]:
    """Remove the suppression of an address. A subscriber suppressed for a bounce gets back
    the status they had; one who complained stays unsubscribed (they must opt in again).
    An erasure is not lifted here: the person signs up again. One transaction."""
    digest = address_hash(email)
    async with pool.acquire() as conn, conn.transaction():
        entry = await conn.fetchrow(Q["get_suppression"], digest)
        if entry is None:
            raise NotFound("that address is not suppressed")
        if entry["reason"] == "erased":
            raise Conflict("the address was erased on request; only a new signup brings it back")
        await conn.execute(Q["delete_suppression"], digest)
        subscriber = await conn.fetchrow(Q["find_subscriber"], address_key(email))
        status = None
        if subscriber is not None:
            status = await conn.fetchval(
                Q["restore_subscriber"], subscriber["subscriber_id"], entry["reason"]
            )
            await record_event(
                conn,
                "subscriber.updated",
                "subscriber",
                subscriber["subscriber_id"],
                {"suppression_lifted": entry["reason"], "status": status, "by": by},
            )
    return {"reason": entry["reason"], "subscriber_status": status, "lifted_by": by}


async def add(pool: asyncpg.Pool, email: str, *, detail: str, by: str) -> None:
    """Suppress an address by hand (reason manual): it is never mailed again until lifted."""
    if "@" not in email or len(email) > 320:
        raise InvalidInput("invalid address", {"email": "an e-mail address"})
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchrow(Q["get_suppression"], address_hash(email)) is not None:
            raise Conflict("that address is already suppressed")
        subscriber = await conn.fetchrow(Q["find_subscriber"], address_key(email))
        entry = Bounce(
            delivery_id=None,
            subscriber_id=subscriber["subscriber_id"] if subscriber else None,
            recipient=email.strip(),
            kind="manual",
            source="editor",
            detail=f"{detail} ({by})" if detail else f"by {by}",
        )
        await suppress(conn, [entry], "manual")
