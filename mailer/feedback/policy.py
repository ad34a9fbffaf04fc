"""What a bounce or complaint does to an address: a hard bounce suppresses at once, soft
bounces after a count within a window, a complaint unsubscribes and suppresses at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from mailer.addresses import address_hash
from mailer.audience.consent import Context, record_consent
from mailer.config_bounces import BounceSettings
from mailer.db import Connection, load_queries
from mailer.events import record_events
from mailer.feedback.bounces import record_bounces, suppress
from mailer.models import Bounce

Q = load_queries("feedback/feedback")


async def apply_bounces(
    conn: Connection, policy: BounceSettings, bounces: Sequence[Bounce]
) -> list[int]:
    """Record the bounces and apply the policy, in the caller's transaction; returns the
    subscribers newly suppressed or unsubscribed. Safe to call with any mix of kinds."""
    await record_bounces(conn, bounces)  # hard bounces are suppressed there
    changed: list[int] = []
    complaints = [b for b in bounces if b.kind == "complaint"]
    if complaints:
        changed += await _complaints(conn, complaints)
    soft = sorted({b.subscriber_id for b in bounces if b.kind == "soft" and b.subscriber_id})
    if soft:
        rows = await conn.fetch(Q["soft_bounce_counts"], soft, policy.soft_days, policy.soft_limit)
        changed += await suppress(
            conn,
            [
                Bounce(
                    delivery_id=None,
                    subscriber_id=row["subscriber_id"],
                    recipient=row["email"],
                    kind="soft",
                    source="policy",
                    detail=f"{row['bounces']} soft bounces within {policy.soft_days} days",
                )
                for row in rows
            ],
            "soft_bounce",
        )
    return changed


async def _complaints(conn: Connection, complaints: Sequence[Bounce]) -> list[int]:
    """Unsubscribe (consent ledger, event, queued bulk mail cancelled) and suppress."""
    ids = sorted({b.subscriber_id for b in complaints if b.subscriber_id})
    rows = await conn.fetch(Q["lock_subscribers"], ids)
    before = {r["subscriber_id"]: r["status"] for r in rows}
    emails = {r["subscriber_id"]: r["email"] for r in rows}
    subscribed = [
        b for b in complaints if before.get(b.subscriber_id or 0) in ("active", "pending")
    ]
    unsubscribed = sorted({b.subscriber_id for b in subscribed if b.subscriber_id})
    if unsubscribed:
        await conn.execute(Q["mark_complained"], unsubscribed)
        await conn.execute(Q["cancel_bulk_for"], unsubscribed)
        seen: set[int] = set()
        for b in subscribed:
            if b.subscriber_id is None or b.subscriber_id in seen:
                continue
            seen.add(b.subscriber_id)
            await record_consent(
                conn,
                subscriber_id=b.subscriber_id,
                email=emails[b.subscriber_id],
                action="unsubscribe",
                context=Context(source=f"complaint via {b.source}"),
                detail={"complaint": b.detail, "delivery_id": b.delivery_id},
            )
        await record_events(
            conn,
            [
                ("subscriber.unsubscribed", "subscriber", sid, {"reason": "complaint"})
                for sid in unsubscribed
            ],
        )
    suppressed = await suppress(conn, complaints, "complaint")
    await conn.execute(
        Q["complaint_overrides"],
        [address_hash(b.recipient) for b in complaints if b.recipient],
        complaints[0].detail,
    )
    return sorted(set(unsubscribed) | set(suppressed))


def bounce_recorder(
    policy: BounceSettings,
) -> Callable[[Connection, Sequence[Bounce]], Awaitable[list[int]]]:
    """`apply_bounces` under this policy: what the delivery worker is given to record the
    bounces an SMTP reply tells it (delivery knows nothing of the policy itself)."""

    async def record(conn: Connection, bounces: Sequence[Bounce]) -> list[int]:
        return await apply_bounces(conn, policy, bounces)

    return record
