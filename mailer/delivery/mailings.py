"""Bulk mailings: fan-out when sending starts, pause/resume/cancel, progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from mailer.db import Connection, load_queries
from mailer.errors import Conflict, NotFound
from mailer.events import record_event
from mailer.models import DeliveryStatus, MailingStatus

Q = load_queries("delivery/mailings")
DQ = load_queries("delivery/queue")


async def create_mailing(
    conn: Connection,
    *,
    kind: str,
    subject: str,
    list_id: str,
    content: dict[str, Any],
    priority: int = 20,
) -> int:
    mailing_id: int = await conn.fetchval(
        Q["create_mailing"], kind, subject, list_id, content, priority
    )
    return mailing_id


async def get_mailing(db: asyncpg.Pool | Connection, mailing_id: int) -> asyncpg.Record | None:
    return await db.fetchrow(Q["get_mailing"], mailing_id)


async def begin_sending(conn: Connection, mailing_id: int) -> str | None:
    """draft/scheduled -> sending, guarded: of several callers racing, one gets the mailing's
    kind, the others None. In the caller's transaction, before its fan-out."""
    kind: str | None = await conn.fetchval(Q["begin_sending"], mailing_id)
    return kind


async def fan_out(conn: Connection, insert_deliveries: str, *args: Any) -> int:
    """Run a mailing's own `INSERT INTO deliveries ... SELECT` (its audience) after the
    fan-out lock, so fan-outs that read the digest ledger run one at a time; returns how
    many deliveries it made. In the caller's transaction, after `begin_sending`."""
    await conn.execute(Q["lock_fan_out"])
    status = await conn.execute(insert_deliveries, *args)
    return int(status.rsplit(" ", 1)[1])


async def pause(
    pool: asyncpg.Pool, mailing_id: int, *, reason: str = "", by: str = "editor"
) -> None:
    """Workers stop claiming its rows; rows already handed to SMTP finish. Writes the
    `<kind>.paused` event (with who and why) in the same transaction."""
    async with pool.acquire() as conn, conn.transaction():
        kind = await conn.fetchval(Q["pause_mailing"], mailing_id)
        if kind is None:
            await _raise_state(conn, mailing_id, "pause")
        payload = {"mailing_id": mailing_id, "reason": reason, "by": by}
        await record_event(conn, f"{kind}.paused", kind, mailing_id, payload)


async def resume(pool: asyncpg.Pool, mailing_id: int, *, by: str = "editor") -> None:
    async with pool.acquire() as conn, conn.transaction():
        kind = await conn.fetchval(Q["resume_mailing"], mailing_id)
        if kind is None:
            await _raise_state(conn, mailing_id, "resume")
        await record_event(
            conn, f"{kind}.resumed", kind, mailing_id, {"mailing_id": mailing_id, "by": by}
        )
        await conn.execute(DQ["notify_deliveries"])


async def cancel(pool: asyncpg.Pool, mailing_id: int) -> int:
    """Cancel the mailing and every delivery not yet handed to SMTP; returns how many."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(Q["cancel_mailing"], mailing_id) is None:
            await _raise_state(conn, mailing_id, "cancel")
        state = await conn.fetchrow(Q["get_mailing_state"], mailing_id)
        kind = state["kind"] if state else "mailing"
        status = await conn.execute(Q["cancel_pending_deliveries"], mailing_id)
        await record_event(conn, f"{kind}.cancelled", kind, mailing_id, {"mailing_id": mailing_id})
    return int(status.rsplit(" ", 1)[1])


async def restore_draft(pool: asyncpg.Pool, mailing_id: int) -> None:
    """Undo a cancel made before sending began: the mailing is a draft again (its schedule is
    dropped). One transaction; a Conflict if it was sent, or never cancelled."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(Q["restore_cancelled_draft"], mailing_id) is None:
            await _raise_state(conn, mailing_id, "restore")
        state = await conn.fetchrow(Q["get_mailing_state"], mailing_id)
        kind = state["kind"] if state else "mailing"
        await record_event(conn, f"{kind}.restored", kind, mailing_id, {"mailing_id": mailing_id})


async def finish_completed(pool: asyncpg.Pool) -> list[int]:
    """Mark sending mailings with nothing left to do as sent (idempotent, any instance)."""
    rows = await pool.fetch(Q["finish_mailings"])
    return [row["subject_id"] for row in rows]


@dataclass(frozen=True)
class Progress:
    mailing_id: int
    status: MailingStatus
    counts: dict[DeliveryStatus, int]
    sent_last_minute: int
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        finished = (
            DeliveryStatus.SENT,
            DeliveryStatus.FAILED,
            DeliveryStatus.SUPPRESSED,
            DeliveryStatus.CANCELLED,
        )
        return sum(self.counts[s] for s in finished)

    @property
    def rate_per_second(self) -> float:
        """Sends per second over the last minute (or since sending began, if sooner)."""
        window = 60.0
        if self.started_at is not None:
            elapsed = (datetime.now(UTC) - self.started_at).total_seconds()
            window = min(window, max(elapsed, 1.0))
        return self.sent_last_minute / window

    @property
    def eta_seconds(self) -> float | None:
        remaining = self.total - self.done
        if remaining == 0:
            return 0.0
        if self.rate_per_second <= 0:
            return None
        return remaining / self.rate_per_second

    def as_json(self) -> dict[str, Any]:
        return {
            "mailing_id": self.mailing_id,
            "status": self.status.value,
            "counts": {s.value: n for s, n in self.counts.items()},
            "total": self.total,
            "done": self.done,
            "rate_per_second": round(self.rate_per_second, 2),
            "eta_seconds": None if self.eta_seconds is None else round(self.eta_seconds),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


async def progress(pool: asyncpg.Pool, mailing_id: int) -> Progress:
    async with pool.acquire() as conn:
        mailing = await conn.fetchrow(Q["get_mailing"], mailing_id)
        if mailing is None:
            raise NotFound(f"mailing {mailing_id} does not exist")
        rows = await conn.fetch(Q["mailing_progress"], mailing_id)
    counts = dict.fromkeys(DeliveryStatus, 0)
    last_minute = 0
    for row in rows:
        counts[DeliveryStatus(row["status"])] = row["total"]
        last_minute += row["last_minute"]
    return Progress(
        mailing_id=mailing_id,
        status=MailingStatus(mailing["status"]),
        counts=counts,
        sent_last_minute=last_minute,
        started_at=mailing["started_at"],
        finished_at=mailing["finished_at"],
    )


async def _raise_state(conn: Connection, mailing_id: int, action: str) -> None:
    state = await conn.fetchrow(Q["get_mailing_state"], mailing_id)
    if state is None:
        raise NotFound(f"mailing {mailing_id} does not exist")
    raise Conflict(f"cannot {action} mailing {mailing_id}: it is {state['status']}")
