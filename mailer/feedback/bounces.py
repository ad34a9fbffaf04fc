"""Bounces and complaints as recorded facts, and the suppressions a hard bounce causes.
(The rest of the policy -- soft-bounce counting, complaints -- is in bounce_policy.py.)"""

from __future__ import annotations

from collections.abc import Sequence

from mailer.addresses import address_hash
from mailer.db import Connection, load_queries
from mailer.events import Event, record_events
from mailer.models import Bounce

Q = load_queries("feedback/bounces")


async def record_bounces(conn: Connection, bounces: Sequence[Bounce]) -> None:
    """Record bounces (with their mailing, for rates); a hard bounce suppresses its address
    at once (subscriber status, a hashed suppression entry, and the events), all in the
    caller's transaction."""
    if not bounces:
        return
    await conn.execute(
        Q["insert_bounces"],
        [b.delivery_id for b in bounces],
        [b.subscriber_id for b in bounces],
        [b.kind for b in bounces],
        [b.source for b in bounces],
        [b.detail for b in bounces],
    )
    events: list[Event] = [
        (
            "delivery.complained" if b.kind == "complaint" else "delivery.bounced",
            "subscriber" if b.subscriber_id else "delivery",
            b.subscriber_id or b.delivery_id or 0,
            {"delivery_id": b.delivery_id, "kind": b.kind, "source": b.source, "detail": b.detail},
        )
        for b in bounces
    ]
    await record_events(conn, events)
    await suppress(conn, [b for b in bounces if b.kind == "hard"], "hard_bounce")


async def suppress(conn: Connection, bounces: Sequence[Bounce], reason: str) -> list[int]:
    """Suppress these addresses for `reason` (hashed entry, subscriber status, event);
    returns the subscribers that changed. Addresses already suppressed keep their entry."""
    if not bounces:
        return []
    await conn.execute(
        Q["insert_suppressions"],
        [address_hash(b.recipient) for b in bounces if b.recipient],
        [reason] * sum(1 for b in bounces if b.recipient),
        [b.detail for b in bounces if b.recipient],
        [b.subscriber_id for b in bounces if b.recipient],
    )
    changed = await conn.fetch(
        Q["suppress_subscribers"], [b.subscriber_id for b in bounces if b.subscriber_id]
    )
    await record_events(
        conn,
        [
            ("subscriber.suppressed", "subscriber", row["subscriber_id"], {"reason": reason})
            for row in changed
        ],
    )
    return [row["subscriber_id"] for row in changed]
