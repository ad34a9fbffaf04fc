"""Bounces learnt during the SMTP conversation, and the suppressions they cause."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailer.addresses import address_hash
from mailer.db import Connection, load_queries
from mailer.events import Event, record_events

Q = load_queries("bounces")


@dataclass(frozen=True, slots=True)
class Bounce:
    delivery_id: int
    subscriber_id: int | None
    recipient: str
    kind: str  # hard, soft, block, complaint
    source: str  # smtp, dsn, arf, webhook:<provider>
    detail: str


async def record_bounces(conn: Connection, bounces: Sequence[Bounce]) -> None:
    """Record bounces; a hard bounce suppresses its address at once (subscriber status,
    a hashed suppression entry, and the events), all in the caller's transaction."""
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
    hard = [b for b in bounces if b.kind == "hard"]
    events: list[Event] = [
        (
            "delivery.bounced",
            "subscriber" if b.subscriber_id else "delivery",
            b.subscriber_id or b.delivery_id,
            {"delivery_id": b.delivery_id, "kind": b.kind, "detail": b.detail},
        )
        for b in bounces
    ]
    if hard:
        await conn.execute(
            Q["insert_suppressions"],
            [address_hash(b.recipient) for b in hard],
            ["hard_bounce"] * len(hard),
            [b.detail for b in hard],
        )
        changed = await conn.fetch(
            Q["suppress_subscribers"], [b.subscriber_id for b in hard if b.subscriber_id]
        )
        events += [
            ("subscriber.suppressed", "subscriber", row["subscriber_id"], {"reason": "hard_bounce"})
            for row in changed
        ]
    await record_events(conn, events)
