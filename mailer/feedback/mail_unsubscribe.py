"""Unsubscribe by mail: List-Unsubscribe's mailto: fallback (unsubscribe+<delivery>-<sig>@
the bounce domain) is received by the bounce receiver and applied here, the same way the
one-click link of that mail would: an alert's stops alerts only, any other unsubscribes."""

from __future__ import annotations

import asyncpg

from mailer.audience.alert_choice import stop_alerts
from mailer.audience.consent import Context
from mailer.audience.preferences import unsubscribe
from mailer.db import load_queries
from mailer.delivery.headers import UNSUBSCRIBE_LOCAL as LOCAL
from mailer.tokens import InvalidToken, Signer

Q = load_queries("feedback/feedback")


def unsubscribe_delivery(signer: Signer, bounce_domain: str, address: str | None) -> int | None:
    """The delivery an unsubscribe address names, if it is ours and its signature holds."""
    if not address:
        return None
    address = address.strip().strip("<>")
    local, _, domain = address.rpartition("@")
    if domain.lower() != bounce_domain or not local.lower().startswith(f"{LOCAL}+"):
        return None
    try:
        return signer.read_bounce_address(address)
    except InvalidToken:
        return None


async def unsubscribe_by_mail(pool: asyncpg.Pool, delivery_id: int) -> str:
    """Apply a mailed unsubscribe for the delivery's subscriber; a sentence saying what."""
    row = await pool.fetchrow(Q["get_delivery"], delivery_id)
    if row is None or row["subscriber_id"] is None:
        return f"delivery {delivery_id} names no subscriber (any more): nothing to do"
    subscriber_id = int(row["subscriber_id"])
    context = Context(source="mailto unsubscribe")
    if row["kind"] == "alert":
        changed = await stop_alerts(pool, subscriber_id, context, one_click=True)
        what = "alerts stopped"
    else:
        changed = await unsubscribe(pool, subscriber_id, context, one_click=True)
        what = "unsubscribed"
    return f"subscriber {subscriber_id} {what}" + ("" if changed else " already")
