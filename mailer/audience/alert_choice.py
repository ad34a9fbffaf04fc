"""A subscriber's choice to receive urgent alerts: at signup, on the preference page, and
the alerts-only unsubscribe link (and List-Unsubscribe) of every alert."""

from __future__ import annotations

import asyncpg

from mailer.audience.consent import Context, record_consent
from mailer.db import Connection, load_queries
from mailer.events import record_event
from mailer.i18n import N_

Q = load_queries("audience/alert_choice")


def alerts_change(accepts: bool) -> str:
    return (
        N_("You will receive urgent alerts") if accepts else N_("You will no longer receive alerts")
    )


async def set_alerts(conn: Connection, subscriber_id: int, accepts: bool) -> str | None:
    """Set the choice in the caller's transaction; the subscriber's address if it changed.
    Turning alerts off also cancels alerts still queued for them (the claim-time check
    looks at consent, not at this choice)."""
    changed = await conn.fetchrow(Q["set_accepts_alerts"], subscriber_id, accepts)
    if changed is not None and not accepts:
        await conn.execute(Q["cancel_alert_deliveries_of"], subscriber_id)
    return None if changed is None else str(changed["email"])


async def stop_alerts(
    pool: asyncpg.Pool, subscriber_id: int, context: Context, *, one_click: bool = False
) -> bool:
    """The alerts-only unsubscribe: alerts off, digests kept; consent entry and event in
    the same transaction. True if anything changed (twice is harmless)."""
    async with pool.acquire() as conn, conn.transaction():
        email = await set_alerts(conn, subscriber_id, False)
        if email is None:
            return False
        await record_consent(
            conn,
            subscriber_id=subscriber_id,
            email=email,
            action="preferences",
            context=context,
            detail={"changes": [alerts_change(False)], "one_click": one_click},
        )
        await record_event(
            conn, "subscriber.updated", "subscriber", subscriber_id, {"alerts": False}
        )
    return True
