"""Subscribing again from a personal link: no confirmation mail, the link is the proof.

The preference link was mailed to the address and is signed with the secret key, so whoever
presses "Subscribe again" on its page has shown they can read that mailbox, exactly what a
confirmation link shows. Mailing another link would only add a wait, and the per-address
throttle (at most one confirmation mail per 10 minutes) could make it a wait for a mail
that never comes. The public form is different: anyone can type any address there, so it
keeps the double opt-in and the throttle (mailer.audience.signup).
"""

from __future__ import annotations

from enum import StrEnum

import asyncpg

from mailer.addresses import address_hash
from mailer.audience.consent import Context, record_consent
from mailer.config import Settings
from mailer.db import load_queries
from mailer.delivery.queue import enqueue_transactional
from mailer.events import record_event
from mailer.models import SubscriberStatus

Q = load_queries("audience/preferences")
SIGNUP_Q = load_queries("audience/signup")


class Resubscribed(StrEnum):
    DONE = "done"  # active again (or for the first time, if they were still pending)
    ALREADY = "already"  # they were active: nothing changed
    REFUSED = "refused"  # the address bounced, complained or was suppressed: no mail can go


async def resubscribe(
    pool: asyncpg.Pool,
    settings: Settings,
    subscriber_id: int,
    context: Context,
    *,
    consent_text: str,
) -> Resubscribed:
    """Make a subscriber proven by a signed link active again, in one transaction with the
    consent entry (the wording they agreed to, `resubscribe`) and the `subscriber.confirmed`
    event. Idempotent: pressing twice changes nothing more. Never mails a confirmation."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(Q["get_subscriber_for_update"], subscriber_id)
        if row is None or row["status"] in (SubscriberStatus.ERASED, SubscriberStatus.SUPPRESSED):
            return Resubscribed.REFUSED
        if row["status"] == SubscriberStatus.ACTIVE:
            return Resubscribed.ALREADY
        suppressed = await conn.fetchval(SIGNUP_Q["is_suppressed"], address_hash(row["email"]))
        if suppressed is not None and suppressed != "erased":
            return Resubscribed.REFUSED
        await conn.execute(SIGNUP_Q["activate_subscriber"], subscriber_id)
        await conn.execute(Q["add_public_topics_if_none"], subscriber_id)
        await conn.execute(Q["subscribe_to_default_series_if_none"], subscriber_id)
        slugs = [
            r["slug"] for r in await conn.fetch(SIGNUP_Q["subscriber_topic_slugs"], subscriber_id)
        ]
        await record_consent(
            conn,
            subscriber_id=subscriber_id,
            email=row["email"],
            action="resubscribe",
            context=context,
            topics=slugs,
            consent_text=consent_text,
            detail={"proof": "personal link", "was": row["status"]},
        )
        await record_event(
            conn, "subscriber.confirmed", "subscriber", subscriber_id, {"topics": slugs}
        )
        if settings.welcome_mail:
            await enqueue_transactional(
                conn, kind="welcome", recipient=row["email"], subscriber_id=subscriber_id
            )
    return Resubscribed.DONE
