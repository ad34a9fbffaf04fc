"""Writing to the events outbox, always inside the transaction of the change itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mailer.db import Connection, load_queries

Q = load_queries("events")


async def record_event(
    conn: Connection, event_type: str, subject: str, subject_id: int, payload: dict[str, Any]
) -> None:
    await conn.execute(Q["insert_event"], event_type, subject, subject_id, payload)


Event = tuple[str, str, int, dict[str, Any]]  # type, subject, subject_id, payload


async def record_events(conn: Connection, events: Sequence[Event]) -> None:
    if events:
        await conn.execute(
            Q["insert_events"],
            [e[0] for e in events],
            [e[1] for e in events],
            [e[2] for e in events],
            [e[3] for e in events],
        )
