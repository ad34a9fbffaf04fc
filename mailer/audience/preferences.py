"""Subscribers managing themselves: preferences, unsubscribe, their data, erasure.

Every function takes a subscriber id that the caller proved with a signed link (or an
editor with an API key); each change is one transaction with its consent entry and event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from mailer.addresses import address_hash, address_key
from mailer.audience.alert_choice import alerts_change, set_alerts
from mailer.audience.consent import Context, consent_history, record_consent
from mailer.db import load_queries
from mailer.errors import Conflict, Gone, InvalidInput, NotFound
from mailer.events import record_event
from mailer.i18n import N_, Said, language_name, language_of
from mailer.models import SubscriberStatus
from mailer.tokens import InvalidToken, Purpose, Signer

Q = load_queries("audience/preferences")
TQ = load_queries("audience/topics")
SIGNUP_Q = load_queries("audience/signup")

PAUSE_CHOICES = {"": 0, "1": 1, "3": 3}  # months


class LinkRevoked(Gone):
    """A genuine link whose subscriber is gone or whose links were revoked since."""


@dataclass(frozen=True)
class Subscriber:
    subscriber_id: int
    email: str
    name: str | None
    status: SubscriberStatus
    plain_text_only: bool
    paused_until: datetime | None
    key_version: int
    topics: tuple[str, ...]  # slugs
    series: tuple[int, ...] = ()  # the digest series they receive
    accepts_alerts: bool = False  # urgent alerts on their topics
    locale: str | None = None  # the language they read (a tag such as es or pt-BR)
    both_languages: bool = False  # items in every language, not only theirs

    @property
    def masked_email(self) -> str:
        local, _, domain = self.email.rpartition("@")
        return f"{local[:1]}{'•' * min(max(len(local) - 1, 3), 8)}@{domain}"

    @property
    def paused(self) -> bool:
        return self.paused_until is not None and self.paused_until > datetime.now(UTC)


async def subscriber_from_link(
    pool: asyncpg.Pool, signer: Signer, purpose: Purpose, token: str
) -> Subscriber:
    """The subscriber a signed link names; NotFound if forged, LinkRevoked if outdated."""
    try:
        subscriber_id, key_version = signer.read_subscriber_token(purpose, token)
    except InvalidToken as exc:
        raise NotFound(
            N_("This link is not valid. Please use the link in one of our mails.")
        ) from exc
    subscriber = await load_subscriber(pool, subscriber_id)
    if subscriber is None:  # erased on request (or a signup never confirmed, purged)
        raise LinkRevoked(
            N_(
                "This link no longer works. The subscription it belonged to was deleted, "
                "and no mail goes to that address. You are welcome to subscribe again."
            )
        )
    if subscriber.key_version != key_version:
        raise LinkRevoked(N_("This link no longer works. The links in our newest mail do."))
    return subscriber


async def load_subscriber(pool: asyncpg.Pool, subscriber_id: int) -> Subscriber | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(Q["get_subscriber"], subscriber_id)
        if row is None or row["status"] == SubscriberStatus.ERASED:
            return None
        topics = await conn.fetch(Q["subscriber_topics"], subscriber_id)
        series = await conn.fetch(Q["subscriber_series"], subscriber_id)
    return Subscriber(
        subscriber_id=row["subscriber_id"],
        email=row["email"],
        name=row["name"],
        status=SubscriberStatus(row["status"]),
        plain_text_only=row["plain_text_only"],
        paused_until=row["paused_until"],
        key_version=row["key_version"],
        topics=tuple(t["slug"] for t in topics),
        series=tuple(s["series_id"] for s in series),
        accepts_alerts=row["accepts_alerts"],
        locale=row["locale"],
        both_languages=row["both_languages"],
    )


@dataclass(frozen=True)
class PreferenceChoice:
    name: str | None
    topics: tuple[str, ...]  # public topic slugs
    plain_text_only: bool
    pause_months: int | None  # None: leave the pause as it is; 0: no pause
    series: tuple[int, ...] | None = None  # None: leave the series as they are
    alerts: bool | None = None  # None: leave the alert choice as it is
    language: str | None = None  # None: leave the language as it is
    both_languages: bool | None = None  # None: leave it as it is


async def save_preferences(
    pool: asyncpg.Pool, subscriber: Subscriber, choice: PreferenceChoice, context: Context
) -> list[str]:
    """Apply the choice; returns what changed, in words. Unsubscribed people are told to
    subscribe again instead (an old form replayed after unsubscribing changes nothing)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(Q["get_subscriber_for_update"], subscriber.subscriber_id)
        if row is None:
            raise LinkRevoked(N_("This link no longer works."))
        if row["status"] not in (SubscriberStatus.ACTIVE, SubscriberStatus.PENDING):
            raise Conflict(N_("You are unsubscribed. Subscribe again to choose topics."))
        public = {t["slug"]: t for t in await conn.fetch(TQ["list_topics"]) if t["public"]}
        unknown = [slug for slug in choice.topics if slug not in public]
        if unknown:
            raise InvalidInput("unknown topics", {"topics": f"unknown: {', '.join(unknown[:5])}"})
        if not choice.topics:
            raise InvalidInput(
                "no topic", {"topics": N_("Choose at least one topic, or unsubscribe.")}
            )
        before = set(subscriber.topics) & set(public)
        after = set(choice.topics)
        paused_until = row["paused_until"]
        if choice.pause_months is not None:
            paused_until = (
                datetime.now(UTC) + timedelta(days=30 * choice.pause_months)
                if choice.pause_months
                else None
            )
        changes = _describe(subscriber, choice, before, after, public, paused_until)
        if choice.series is not None:
            offered = {r["series_id"]: r["name"] for r in await conn.fetch(Q["active_series"])}
            if any(s not in offered for s in choice.series):
                raise InvalidInput(
                    "unknown series", {"series": N_("Choose among the offered digests.")}
                )
            had, has = set(subscriber.series) & set(offered), set(choice.series)
            gets, stops = (
                N_("You will receive %(series)s"),
                N_("You will no longer receive %(series)s"),
            )
            changes += [Said.of(gets, series=offered[s]) for s in sorted(has - had)]
            changes += [Said.of(stops, series=offered[s]) for s in sorted(had - has)]
            if has != had:
                await conn.execute(Q["clear_series"], subscriber.subscriber_id)
                await conn.execute(Q["add_series"], subscriber.subscriber_id, sorted(has))
        if choice.alerts is not None and choice.alerts != subscriber.accepts_alerts:
            changes.append(alerts_change(choice.alerts))
            await set_alerts(conn, subscriber.subscriber_id, choice.alerts)
        if choice.language is not None and choice.language != language_of(subscriber.locale):
            changes.append(
                Said.of(
                    N_("Mails will come in %(language)s"), language=language_name(choice.language)
                )
            )
            await conn.execute(Q["set_locale"], subscriber.subscriber_id, choice.language)
        if choice.both_languages is not None and choice.both_languages != subscriber.both_languages:
            changes.append(
                N_("You will receive items in every language")
                if choice.both_languages
                else N_("You will receive items in your language only")
            )
            await conn.execute(
                Q["set_both_languages"], subscriber.subscriber_id, choice.both_languages
            )
        if not changes:
            return []
        await conn.execute(Q["clear_public_topics"], subscriber.subscriber_id)
        await conn.execute(
            SIGNUP_Q["add_topics"],
            subscriber.subscriber_id,
            [public[slug]["topic_id"] for slug in choice.topics],
        )
        await conn.execute(
            Q["update_profile"],
            subscriber.subscriber_id,
            choice.name,
            choice.plain_text_only,
            paused_until,
        )
        await record_consent(
            conn,
            subscriber_id=subscriber.subscriber_id,
            email=subscriber.email,
            action="preferences",
            context=context,
            topics=sorted(after),
            detail={"changes": changes},
        )
        await record_event(
            conn,
            "subscriber.updated",
            "subscriber",
            subscriber.subscriber_id,
            {
                "topics": sorted(after),
                "paused_until": _iso(paused_until),
                "alerts": subscriber.accepts_alerts if choice.alerts is None else choice.alerts,
            },
        )
    return changes


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _describe(
    subscriber: Subscriber,
    choice: PreferenceChoice,
    before: set[str],
    after: set[str],
    public: dict[str, Any],
    paused_until: datetime | None,
) -> list[str]:
    added, removed = N_("Added %(topic)s"), N_("Removed %(topic)s")
    changes: list[str] = [
        Said.of(added, topic=public[slug]["name"]) for slug in sorted(after - before)
    ]
    changes += [Said.of(removed, topic=public[slug]["name"]) for slug in sorted(before - after)]
    if choice.name != subscriber.name:
        named = Said.of(N_("Name set to %(name)s"), name=choice.name) if choice.name else None
        changes.append(named or N_("Name removed"))
    if choice.plain_text_only != subscriber.plain_text_only:
        changes.append(
            N_("Mails will come as plain text only")
            if choice.plain_text_only
            else N_("Mails will come with pictures and layout again")
        )
    if choice.pause_months is not None and paused_until != subscriber.paused_until:
        if paused_until is None:
            if subscriber.paused:
                changes.append(N_("Pause ended: digests will come again"))
        else:
            changes.append(Said.of(N_("Paused until %(date)s"), date=paused_until))
    return changes


async def unsubscribe(
    pool: asyncpg.Pool, subscriber_id: int, context: Context, *, one_click: bool = False
) -> bool:
    """Unsubscribe at once and cancel their queued bulk mail; True if anything changed
    (unsubscribing twice is harmless)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(Q["get_subscriber_for_update"], subscriber_id)
        if row is None:
            return False
        status = await conn.execute(Q["mark_unsubscribed"], subscriber_id)
        if status.endswith(" 0"):
            return False
        await conn.execute(Q["cancel_queued_for"], subscriber_id)
        await record_consent(
            conn,
            subscriber_id=subscriber_id,
            email=row["email"],
            action="unsubscribe",
            context=context,
            detail={"one_click": one_click},
        )
        await record_event(
            conn, "subscriber.unsubscribed", "subscriber", subscriber_id, {"one_click": one_click}
        )
    return True


async def export_data(pool: asyncpg.Pool, subscriber_id: int) -> dict[str, Any]:
    """Everything held about one subscriber, as JSON-ready data."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(Q["get_subscriber"], subscriber_id)
        if row is None:
            raise NotFound("no such subscriber")
        topics = await conn.fetch(Q["subscriber_topics"], subscriber_id)
        deliveries = await conn.fetch(Q["subscriber_deliveries"], subscriber_id)
    profile = {
        key: (value.isoformat() if isinstance(value, datetime) else value)
        for key, value in dict(row).items()
        if key != "key_version"
    }
    return {
        "exported_at": datetime.now(UTC).isoformat(),
        "profile": profile,
        "topics": [{"slug": t["slug"], "name": t["name"]} for t in topics],
        "consent_ledger": await consent_history(pool, subscriber_id),
        "deliveries": [
            {
                "delivery_id": d["delivery_id"],
                "kind": d["kind"],
                "subject": d["subject"],
                "status": d["status"],
                "queued_at": d["created_at"].isoformat(),
                "sent_at": _iso(d["sent_at"]),
            }
            for d in deliveries
        ],
    }


async def erase(pool: asyncpg.Pool, subscriber_id: int, *, requested_by: str) -> None:
    """Forget a person: delete their row and every address or IP kept elsewhere, keep a
    hashed suppression so no import re-adds them, and the consent decisions (unlinked)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(Q["get_subscriber_for_update"], subscriber_id)
        if row is None:
            raise NotFound("no such subscriber")
        await record_consent(
            conn,
            subscriber_id=subscriber_id,
            email=row["email"],
            action="erase",
            context=Context(source=requested_by),
        )
        await conn.execute(
            Q["suppress_erased"], address_hash(row["email"]), f"erased on request ({requested_by})"
        )
        await conn.execute(Q["forget_delivery_addresses"], subscriber_id)
        await conn.execute(Q["forget_consent_details"], subscriber_id)
        await conn.execute(Q["delete_subscriber"], subscriber_id)
        await record_event(
            conn, "subscriber.erased", "subscriber", subscriber_id, {"by": requested_by}
        )


async def find_by_address(pool: asyncpg.Pool, email: str) -> int:
    found: int | None = await pool.fetchval(Q["find_by_address"], address_key(email))
    if found is None:
        raise NotFound("no subscriber has that address")
    return found


async def welcome_summary(pool: asyncpg.Pool, subscriber_id: int) -> dict[str, Any]:
    """For the welcome page: the names of the chosen topics, and when the first of the
    subscriber's digests is due (None if no series has a next run)."""
    row = await pool.fetchrow(Q["welcome_summary"], subscriber_id)
    assert row is not None  # both parts are aggregates: always one row
    return {"topics": list(row["topic_names"]), "next_digest_at": row["next_digest_at"]}


async def active_series(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """The series a subscriber may choose on the preference page."""
    return await pool.fetch(Q["active_series"])
