"""Signup with double opt-in: record consent, mail a confirmation link, confirm by POST.

Nobody learns from the outcome whether an address is subscribed: every valid signup gets
the same answer, and what happens next depends on the address's state (new or pending:
a confirmation mail; active: a throttled "already subscribed" mail; unsubscribed, or
erased on request: a fresh double opt-in; bounced or complained: nothing at all).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import asyncpg

from mailer.addresses import address_hash, address_key
from mailer.alert_choice import set_alerts
from mailer.compose import SlotProvider
from mailer.config import Settings
from mailer.consent import Context, record_consent
from mailer.db import Connection, load_queries
from mailer.deliveries import enqueue_transactional
from mailer.errors import InvalidInput, NotFound
from mailer.events import record_event
from mailer.models import ClaimedDelivery, SubscriberStatus
from mailer.signup_input import SignupRequest
from mailer.tokens import Signer, looks_like_confirmation_token, token_hash

Q = load_queries("signup")
TQ = load_queries("topics")
SQ = load_queries("series")
log = logging.getLogger(__name__)


async def _resolve_topics(
    conn: Connection, slugs: tuple[str, ...] | None, *, allow_hidden: bool
) -> tuple[list[int], list[str]]:
    """Topic ids and slugs; every public topic when none were named."""
    if slugs is None:
        rows = [r for r in await conn.fetch(TQ["list_topics"]) if r["public"]]
        return [r["topic_id"] for r in rows], [r["slug"] for r in rows]
    rows = await conn.fetch(TQ["topics_by_slug"], list(slugs))
    known = {r["slug"]: r for r in rows if r["public"] or allow_hidden}
    unknown = [s for s in slugs if s not in known]
    if unknown:
        raise InvalidInput(
            "the signup is invalid", {"topics": f"unknown topics: {', '.join(unknown[:10])}"}
        )
    return [known[s]["topic_id"] for s in slugs], list(slugs)


async def sign_up(
    pool: asyncpg.Pool,
    signer: Signer,
    settings: Settings,
    request: SignupRequest,
    *,
    allow_hidden: bool = False,
) -> None:
    """Record a signup in one transaction (subscriber, topics, consent, event, mail).

    Safe under concurrency: the subscriber row's lock serialises signups of one address,
    and the notice slot lets at most one mail per address out per 10 minutes."""
    context = Context(ip=request.ip, user_agent=request.user_agent, source=request.source)
    async with pool.acquire() as conn, conn.transaction():
        topic_ids, slugs = await _resolve_topics(conn, request.topics, allow_hidden=allow_hidden)
        suppressed = await conn.fetchval(Q["is_suppressed"], address_hash(request.email))
        if suppressed is not None and suppressed != "erased":
            return  # bounced or complained: silence. (Erased people may opt in anew.)
        row = await conn.fetchrow(
            Q["upsert_signup"],
            request.email,
            address_key(request.email),
            request.name,
            request.locale,
            request.source,
        )
        assert row is not None
        subscriber_id: int = row["subscriber_id"]
        status = SubscriberStatus(row["status"])
        if status in (SubscriberStatus.SUPPRESSED, SubscriberStatus.ERASED):
            return
        if status is SubscriberStatus.ACTIVE:
            if await conn.fetchval(Q["take_notice_slot"], subscriber_id):
                await enqueue_transactional(
                    conn,
                    kind="already_subscribed",
                    recipient=request.email,
                    subscriber_id=subscriber_id,
                )
            return
        if not row["created"]:
            await conn.execute(
                Q["restart_opt_in"], subscriber_id, request.name, request.locale, request.source
            )
        # Two statements: a DELETE in a CTE is invisible to the INSERT beside it.
        await conn.execute(Q["clear_topics"], subscriber_id)
        await conn.execute(Q["add_topics"], subscriber_id, topic_ids)
        if request.alerts or not row["created"]:  # a new row starts with alerts off
            await set_alerts(conn, subscriber_id, request.alerts)
        resubscribing = status is SubscriberStatus.UNSUBSCRIBED
        await record_consent(
            conn,
            subscriber_id=subscriber_id,
            email=request.email,
            action="resubscribe" if resubscribing else "signup",
            context=context,
            topics=slugs,
            consent_text=request.consent_text,
            detail={"alerts": True} if request.alerts else None,
        )
        if row["created"] or resubscribing:
            await record_event(
                conn, "subscriber.pending", "subscriber", subscriber_id, {"topics": slugs}
            )
        if await conn.fetchval(Q["take_notice_slot"], subscriber_id):
            await _send_confirmation(conn, signer, settings, subscriber_id, request.email)


async def _send_confirmation(
    conn: Connection, signer: Signer, settings: Settings, subscriber_id: int, email: str
) -> None:
    nonce = secrets.token_bytes(16)
    confirmation_id: int = await conn.fetchval(Q["next_confirmation_id"])
    token = signer.confirmation_token(confirmation_id, nonce)
    await conn.execute(
        Q["create_confirmation"],
        confirmation_id,
        subscriber_id,
        nonce,
        token_hash(token),
        settings.confirm_ttl_seconds,
    )
    # The queue holds the nonce, not the token: the worker derives the link with the key.
    await enqueue_transactional(
        conn,
        kind="confirm",
        recipient=email,
        subscriber_id=subscriber_id,
        payload={"confirmation_id": confirmation_id, "nonce": nonce.hex()},
    )


def confirm_slots(signer: Signer, settings: Settings) -> SlotProvider:
    """The confirmation link of a `confirm` delivery, derived at send time."""

    def provide(delivery: ClaimedDelivery) -> Mapping[str, str]:
        payload = delivery.payload or {}
        token = signer.confirmation_token(
            int(payload["confirmation_id"]), bytes.fromhex(str(payload["nonce"]))
        )
        return {"confirm_url": f"{settings.base_url}/confirm/{token}"}

    return provide


class ConfirmState(StrEnum):
    VALID = "valid"  # can be confirmed by POST
    DONE = "done"  # used already, the subscriber is active
    EXPIRED = "expired"


@dataclass(frozen=True)
class ConfirmView:
    state: ConfirmState
    subscriber_id: int
    key_version: int
    name: str | None


async def _find(conn: Connection, token: str) -> asyncpg.Record:
    if not looks_like_confirmation_token(token):
        raise NotFound("This confirmation link is not valid.")
    row = await conn.fetchrow(Q["find_confirmation"], token_hash(token))
    if row is None or row["status"] in ("suppressed", "erased"):
        raise NotFound("This confirmation link is not valid.")
    return row


def _view(row: asyncpg.Record) -> ConfirmView:
    if row["used_at"] is not None or row["status"] == "active":
        state = ConfirmState.DONE
    elif row["expired"]:
        state = ConfirmState.EXPIRED
    else:
        state = ConfirmState.VALID
    return ConfirmView(state, row["subscriber_id"], row["key_version"], row["name"])


async def inspect_confirmation(pool: asyncpg.Pool, token: str) -> ConfirmView:
    """What a confirmation link would do, changing nothing (GET: link scanners)."""
    async with pool.acquire() as conn, conn.transaction():
        return _view(await _find(conn, token))


async def confirm(
    pool: asyncpg.Pool, settings: Settings, token: str, context: Context
) -> ConfirmView:
    """Confirm by POST: single use; activates, records consent and the event, optionally
    queues the welcome mail, all in one transaction. Expired or used links change nothing."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _find(conn, token)
        view = _view(row)
        if view.state is not ConfirmState.VALID:
            return view
        subscriber_id = row["subscriber_id"]
        await conn.execute(Q["use_confirmation"], row["confirmation_id"])
        await conn.execute(Q["activate_subscriber"], subscriber_id)
        await conn.execute(SQ["subscribe_to_default_series"], subscriber_id)
        await conn.execute(Q["lift_erasure"], address_hash(row["email"]))
        slugs = [r["slug"] for r in await conn.fetch(Q["subscriber_topic_slugs"], subscriber_id)]
        await record_consent(
            conn,
            subscriber_id=subscriber_id,
            email=row["email"],
            action="confirm",
            context=context,
            topics=slugs,
        )
        await record_event(
            conn, "subscriber.confirmed", "subscriber", subscriber_id, {"topics": slugs}
        )
        if settings.welcome_mail:
            await enqueue_transactional(
                conn, kind="welcome", recipient=row["email"], subscriber_id=subscriber_id
            )
    return ConfirmView(ConfirmState.VALID, subscriber_id, row["key_version"], row["name"])


async def resend_confirmation(
    pool: asyncpg.Pool, signer: Signer, settings: Settings, token: str
) -> None:
    """A new link for the address an (expired) link was sent to, if it is still pending;
    throttled like every confirmation mail, and silent about the outcome."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _find(conn, token)
        if row["status"] != "pending":
            return
        if await conn.fetchval(Q["take_notice_slot"], row["subscriber_id"]):
            await _send_confirmation(conn, signer, settings, row["subscriber_id"], row["email"])


async def purge_pending(pool: asyncpg.Pool, days: int) -> int:
    """Delete signups left unconfirmed for `days` (idempotent; any instance may run it)."""
    rows = await pool.fetch(Q["purge_pending"], days)
    if rows:
        log.info("purged %d signups never confirmed within %d days", len(rows), days)
    return len(rows)
