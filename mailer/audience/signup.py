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
from typing import Any

import asyncpg

from mailer.addresses import address_hash, address_key
from mailer.audience.consent import Context, ledger_ip, ledger_text, record_consent, text_hash
from mailer.audience.signup_batch import SignupWriter
from mailer.audience.signup_input import SignupRequest
from mailer.config import Settings
from mailer.db import Connection, load_queries
from mailer.delivery.compose import SlotProvider
from mailer.delivery.queue import enqueue_transactional
from mailer.errors import InvalidInput, NotFound
from mailer.events import record_event
from mailer.i18n import N_
from mailer.models import ClaimedDelivery
from mailer.tokens import Signer, looks_like_confirmation_token, token_hash

Q = load_queries("audience/signup")
log = logging.getLogger(__name__)


class SignupOutcome(StrEnum):
    """What a signup did (the answer to the client is the same for all of them)."""

    CONFIRM = "confirm"  # a confirmation mail is queued
    NOTICE = "notice"  # active already: an "already subscribed" mail is queued
    THROTTLED = "throttled"  # recorded; a mail went out less than 10 minutes ago
    SILENT = "silent"  # the subscriber is suppressed or erased: nothing
    SUPPRESSED = "suppressed"  # the address bounced or complained: nothing


def signup_row(
    signer: Signer, request: SignupRequest, confirmation_id: int, *, allow_hidden: bool
) -> tuple[Any, ...]:
    """A signup as the database function takes it (a `signup_request`, field by field)."""
    nonce = secrets.token_bytes(16)
    key = address_key(request.email)
    return (
        request.email,
        key,
        address_hash(request.email),
        request.name,
        request.locale,
        ledger_text(request.source),
        request.topics,
        allow_hidden,
        ledger_ip(request.ip),
        ledger_text(request.user_agent),
        request.consent_text,
        text_hash(request.consent_text),
        confirmation_id,
        nonce,
        token_hash(signer.confirmation_token(confirmation_id, nonce)),
        request.alerts,
    )


async def sign_up(
    writer: SignupWriter,
    signer: Signer,
    request: SignupRequest,
    *,
    allow_hidden: bool = False,
) -> SignupOutcome:
    """Record a signup: subscriber, topics, consent, event and at most one mail, in one
    transaction (shared with the other signups of its batch; see mailer.audience.signup_batch),
    and wake the delivery workers once that has committed if a mail was queued.

    Safe under concurrency: the subscriber row's lock serialises signups of one address,
    and the notice slot lets at most one mail per address out per 10 minutes. Unknown
    topics raise InvalidInput, with nothing written."""
    confirmation_id = await writer.confirmation_ids.take(writer.pool)
    row = signup_row(signer, request, confirmation_id, allow_hidden=allow_hidden)
    outcome, unknown = await writer.write(address_key(request.email), row)
    if unknown is not None:
        raise InvalidInput(
            "the signup is invalid", {"topics": f"unknown topics: {', '.join(unknown[:10])}"}
        )
    return SignupOutcome(outcome)


async def notice_wait_seconds(pool: asyncpg.Pool, email: str) -> float:
    """How long until a signup of this address may mail it again (0: it may now)."""
    wait: float | None = await pool.fetchval(Q["notice_slot_wait"], address_key(email))
    return wait or 0.0


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
    DONE = "done"  # the subscriber is active (this link or another confirmed them)
    USED = "used"  # used already, or sent before they unsubscribed; they are not active
    EXPIRED = "expired"


@dataclass(frozen=True)
class ConfirmView:
    state: ConfirmState
    subscriber_id: int
    key_version: int
    name: str | None
    status: str  # the subscriber's: pending, active, unsubscribed
    locale: str | None = None  # the language they chose: the pages speak it


NOT_VALID = N_("This confirmation link is not valid.")


async def _find(conn: Connection, token: str) -> asyncpg.Record:
    if not looks_like_confirmation_token(token):
        raise NotFound(NOT_VALID)
    row = await conn.fetchrow(Q["find_confirmation"], token_hash(token))
    if row is None or row["status"] in ("suppressed", "erased"):
        raise NotFound(NOT_VALID)
    return row


def _view(row: asyncpg.Record) -> ConfirmView:
    if row["status"] == "active":
        state = ConfirmState.DONE
    elif row["used_at"] is not None or row["superseded"]:
        # Not "already subscribed": they unsubscribed since, or signed up again and wait
        # for a newer link. An old link must not subscribe someone who left.
        state = ConfirmState.USED
    elif row["expired"]:
        state = ConfirmState.EXPIRED
    else:
        state = ConfirmState.VALID
    return ConfirmView(
        state, row["subscriber_id"], row["key_version"], row["name"], row["status"], row["locale"]
    )


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
        await conn.execute(Q["subscribe_to_default_series"], subscriber_id)
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
    return ConfirmView(
        ConfirmState.VALID, subscriber_id, row["key_version"], row["name"], "active", row["locale"]
    )


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


async def mail_new_link(pool: asyncpg.Pool, signer: Signer, settings: Settings, email: str) -> None:
    """A lost or broken link, replaced by mail: a pending address gets a new confirmation
    link, a subscribed or unsubscribed one a `link` mail with its preference page. At most
    one such mail per address per 10 minutes (the confirmation mails' slot); nothing for an
    unknown, suppressed or erased address. Silent about which happened."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(Q["find_for_new_link"], address_key(email))
        if row is None or row["status"] not in ("pending", "active", "unsubscribed"):
            return
        if not await conn.fetchval(Q["take_notice_slot"], row["subscriber_id"]):
            return
        if row["status"] == "pending":
            await _send_confirmation(conn, signer, settings, row["subscriber_id"], row["email"])
        else:
            await enqueue_transactional(
                conn, kind="link", recipient=row["email"], subscriber_id=row["subscriber_id"]
            )


async def purge_pending(pool: asyncpg.Pool, days: int) -> int:
    """Delete signups left unconfirmed for `days` (idempotent; any instance may run it)."""
    rows = await pool.fetch(Q["purge_pending"], days)
    if rows:
        log.info("purged %d signups never confirmed within %d days", len(rows), days)
    return len(rows)


async def next_confirmation_ids(conn: Connection, count: int) -> list[int]:
    """A block of confirmation ids in one round trip (an import's confirmations, in bulk)."""
    return [row[0] for row in await conn.fetch(Q["next_confirmation_ids"], count)]
