"""Re-permission: ask readers who confirmed long ago whether they still want the mail.

No per-person engagement is kept, so "inactive" cannot mean "never opens". Instead an
editor drafts a campaign for the active readers who confirmed (or re-confirmed) more than
M months ago, sees the count, confirms it, and the mail goes out with a signed "Yes, keep
me subscribed" link. A yes is a consent entry (action `repermission`). After N days the
editor sees the counts (asked, mailed, answered yes, no answer) and only then, confirming
the count, unsubscribes those who did not answer (reason "re-permission: no answer"). Never
automatic; reversible by subscribing again.
"""

from __future__ import annotations

import calendar
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import asyncpg

from mailer.audience.consent import Context, record_consent
from mailer.config import Settings
from mailer.db import Connection, load_queries
from mailer.delivery.compose import SlotProvider
from mailer.editorial import notices
from mailer.errors import Conflict, InvalidInput, NotFound
from mailer.events import record_event, record_events
from mailer.i18n import N_, languages, translations
from mailer.models import ClaimedDelivery
from mailer.tokens import InvalidToken, Purpose, Signer

Q = load_queries("editorial/repermission")
KIND = "repermission"
PRIORITY = 25  # after digests: nothing urgent about it
NO_ANSWER = "re-permission: no answer"
_COUNT = notices.audience_count_sql(Q["audience"])
_ADD = (
    "INSERT INTO repermission_recipients (campaign_id, subscriber_id) "
    f"SELECT $2, a.subscriber_id FROM ({Q['audience']}) AS a ON CONFLICT DO NOTHING"
)
_KEEP = struct.Struct(">QQI")  # mailing_id, subscriber_id, key_version
SUBJECT = N_("Do you still want mail from %(organisation)s?")


@dataclass(frozen=True)
class Terms:
    """What the editor sets: readers confirmed more than `months` ago; `days` to answer."""

    months: int
    days: int


def _whole(value: object, low: int, high: int) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


def check_terms(months: object, days: object) -> Terms:
    """The editor's terms, or InvalidInput naming each one out of bounds."""
    whole_months, whole_days = _whole(months, 1, 120), _whole(days, 1, 90)
    if whole_months is None or whole_days is None:
        problems = {}
        if whole_months is None:
            problems["months"] = "a whole number of months from 1 to 120"
        if whole_days is None:
            problems["days"] = "a whole number of days from 1 to 90"
        raise InvalidInput("invalid re-permission campaign", problems)
    return Terms(whole_months, whole_days)


def cutoff_for(terms: Terms, now: datetime) -> datetime:
    """`now` less the months, the day kept where the month has it (31 March less one
    month is 28 or 29 February)."""
    months = now.year * 12 + now.month - 1 - terms.months
    year, month = divmod(months, 12)
    day = min(now.day, calendar.monthrange(year, month + 1)[1])
    return now.replace(year=year, month=month + 1, day=day)


async def preview_count(pool: asyncpg.Pool, terms: Terms, now: datetime | None = None) -> int:
    """How many readers a campaign with these terms would ask, now."""
    count: int = await pool.fetchval(_COUNT, cutoff_for(terms, now or datetime.now(UTC)))
    return count


def keep_token(signer: Signer, mailing_id: int, subscriber_id: int, key_version: int) -> str:
    return signer.sign_blob(Purpose.KEEP, _KEEP.pack(mailing_id, subscriber_id, key_version))


def read_keep_token(signer: Signer, token: str) -> tuple[int, int, int]:
    """(mailing_id, subscriber_id, key_version); InvalidToken if forged or garbled."""
    data = signer.read_blob(Purpose.KEEP, token, max_length=80)
    if len(data) != _KEEP.size:
        raise InvalidToken("malformed token")
    mailing_id, subscriber_id, key_version = _KEEP.unpack(data)
    return mailing_id, subscriber_id, key_version


def keep_slots(signer: Signer, settings: Settings) -> SlotProvider:
    """The mail's personal "yes" link, made at send time (no usable token in the queue)."""

    def provide(delivery: ClaimedDelivery) -> Mapping[str, str]:
        if (
            delivery.subscriber_id is None
            or delivery.key_version is None
            or delivery.mailing_id is None
        ):
            return {"keep_url": f"{settings.base_url}/"}
        token = keep_token(
            signer, delivery.mailing_id, delivery.subscriber_id, delivery.key_version
        )
        return {"keep_url": f"{settings.base_url}/keep/{token}"}

    return provide


def content(settings: Settings, terms: Terms) -> dict[str, Any]:
    """The template's context (templates/email/repermission/); the subject is written in
    each reader's language by subject.txt."""
    org = {"organisation": settings.organisation}
    texts = {
        language: {"subject": translations(language).gettext(SUBJECT) % org}
        for language in languages()
    }
    return {"subject": SUBJECT % org, "days": terms.days, "preheader": "", "texts": texts}


async def create_campaign(
    pool: asyncpg.Pool, settings: Settings, terms: Terms, *, requested_by: str,
    now: datetime | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A draft campaign with its recipient count, for the editor to confirm; one
    transaction. Conflict while another campaign is a draft or open."""
    now = now or datetime.now(UTC)
    cutoff = cutoff_for(terms, now)
    async with pool.acquire() as conn, conn.transaction():
        await _refuse_if_open(conn)
        count: int = await conn.fetchval(_COUNT, cutoff)
        body = content(settings, terms)
        mailing_id = await notices.create_mailing(
            conn, settings, kind=KIND, stream="repermission", priority=PRIORITY,
            subject=body["subject"], content=body, slug=None,
        )  # fmt: skip
        try:
            row = await conn.fetchrow(
                Q["create_campaign"], mailing_id, terms.months, terms.days, cutoff, count,
                requested_by,
            )  # fmt: skip
        except asyncpg.UniqueViolationError as exc:  # another editor, at the same moment
            raise Conflict("another re-permission campaign was started just now") from exc
        assert row is not None
        await record_event(
            conn, "repermission.drafted", "repermission", row["campaign_id"],
            {"recipients": count, "months": terms.months, "days": terms.days, "by": requested_by},
        )  # fmt: skip
    return await get_campaign(pool, row["campaign_id"])


async def _refuse_if_open(conn: Connection) -> None:
    open_one = await conn.fetchrow(Q["open_campaign"])
    if open_one is not None:
        raise Conflict(
            f"re-permission campaign {open_one['campaign_id']} is {open_one['status']}: "
            "close or cancel it before starting another"
        )


async def get_campaign(pool: asyncpg.Pool, campaign_id: int) -> dict[str, Any]:
    row = await pool.fetchrow(Q["get_campaign"], campaign_id)
    if row is None:
        raise NotFound(f"re-permission campaign {campaign_id} does not exist")
    found = dict(row)
    found["no_answer"] = found["asked"] - found["answered"] - found["left_meanwhile"]
    answer_by = found["answer_by"]
    found["window_over"] = answer_by is not None and answer_by <= datetime.now(UTC)
    return found


async def list_campaigns(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch(Q["list_campaigns"])


async def _send(conn: Connection, settings: Settings, campaign: asyncpg.Record, by: str) -> int:
    """Fix the people asked (the audience as it is now), queue their mail, start the answer
    window; in the caller's transaction. Returns how many mails were queued."""
    campaign_id = campaign["campaign_id"]
    await conn.execute(_ADD, campaign["cutoff"], campaign_id)
    terms = Terms(campaign["older_than_months"], campaign["answer_days"])
    await notices.check_template(conn, settings, KIND, content(settings, terms))
    created = await notices.start(
        conn, mailing_id=campaign["mailing_id"], kind=KIND, fan_out=Q["fan_out"],
        args=(campaign_id,), payload={"campaign_id": campaign_id, "by": by},
    )  # fmt: skip
    await conn.execute(Q["mark_open"], campaign_id, created)
    return created


async def _confirmed_draft(
    conn: Connection, campaign_id: int, confirm: int | None
) -> asyncpg.Record:
    """The locked draft, once the count given back is the one shown and still about right."""
    campaign = await _locked(conn, campaign_id)
    if campaign["status"] != "draft":
        raise Conflict(f"re-permission campaign {campaign_id} is {campaign['status']}")
    notices.check_confirmation("re-permission mail", campaign["recipients"], confirm)
    current: int = await conn.fetchval(_COUNT, campaign["cutoff"])
    notices.check_drift("re-permission mail", campaign["recipients"], current)
    return campaign


async def send_campaign(
    pool: asyncpg.Pool, settings: Settings, campaign_id: int, *, confirm: int | None, by: str
) -> int:
    """Send a draft now: the editor gives back the count they were shown; one transaction.
    Returns how many mails were queued."""

    async def send(conn: Connection) -> int:
        campaign = await _confirmed_draft(conn, campaign_id, confirm)
        return await _send(conn, settings, campaign, by)

    return await notices.confirm_draft(pool, send, Q["set_recipients"], campaign_id)


MAX_AHEAD = timedelta(days=366)


async def schedule_campaign(
    pool: asyncpg.Pool, campaign_id: int, *, confirm: int | None, send_at: datetime, by: str,
    now: datetime | None = None,
) -> None:  # fmt: skip
    """Send a draft later (the scheduler sends it at `send_at`), the count confirmed now.
    If the audience has moved too far by then, it goes back to draft for a new count."""
    now = now or datetime.now(UTC)
    if not now < send_at <= now + MAX_AHEAD:
        raise InvalidInput("invalid schedule", {"send_at": "a time in the future, within a year"})

    async def schedule(conn: Connection) -> int:
        await _confirmed_draft(conn, campaign_id, confirm)
        await conn.execute(Q["mark_scheduled"], campaign_id, send_at)
        await record_event(
            conn, "repermission.scheduled", "repermission", campaign_id,
            {"send_at": send_at.isoformat(), "by": by},
        )  # fmt: skip
        return 0

    await notices.confirm_draft(pool, schedule, Q["set_recipients"], campaign_id)


async def send_due(pool: asyncpg.Pool, settings: Settings, *, now: datetime) -> list[int]:
    """The scheduler's tick: send each scheduled campaign whose time has come (one
    transaction each; safe on several instances). A campaign whose audience moved too far
    since its count was confirmed goes back to draft instead. Returns the ids sent."""
    sent: list[int] = []
    while True:
        async with pool.acquire() as conn, conn.transaction():
            campaign_id = await conn.fetchval(Q["next_due"], now)
            if campaign_id is None:
                return sent
            campaign = await _locked(conn, campaign_id)
            current: int = await conn.fetchval(_COUNT, campaign["cutoff"])
            try:
                notices.check_drift("re-permission mail", campaign["recipients"], current)
            except notices.AudienceChanged:
                await conn.execute(Q["back_to_draft"], campaign_id, current)
                await record_event(
                    conn, "repermission.needs_confirmation", "repermission", campaign_id,
                    {"confirmed": campaign["recipients"], "now": current},
                )  # fmt: skip
                continue
            await _send(conn, settings, campaign, "scheduler")
            sent.append(campaign_id)


async def _locked(conn: Connection, campaign_id: int) -> asyncpg.Record:
    campaign = await conn.fetchrow(Q["lock_campaign"], campaign_id)
    if campaign is None:
        raise NotFound(f"re-permission campaign {campaign_id} does not exist")
    return campaign


async def cancel_campaign(pool: asyncpg.Pool, campaign_id: int, *, by: str) -> None:
    """Drop a draft or a scheduled campaign (nothing was sent), or close an open one
    keeping everyone."""
    async with pool.acquire() as conn, conn.transaction():
        campaign = await _locked(conn, campaign_id)
        if campaign["status"] not in ("draft", "scheduled", "open"):
            raise Conflict(f"re-permission campaign {campaign_id} is {campaign['status']}")
        if campaign["status"] in ("draft", "scheduled"):
            await conn.execute(
                "UPDATE mailings SET status = 'cancelled' WHERE mailing_id = $1 "
                "AND status = 'draft'",
                campaign["mailing_id"],
            )
        await conn.execute(Q["close_campaign"], campaign_id, "cancelled", 0, by)
        await record_event(conn, "repermission.cancelled", "repermission", campaign_id, {"by": by})


class Answer(StrEnum):
    """What a "yes" did."""

    KEPT = "kept"
    ALREADY = "already"  # answered before: nothing more
    NOT_ACTIVE = "not_active"  # unsubscribed meanwhile (or removed at the close)
    NOT_ASKED = "not_asked"  # a link for a mailing that was no re-permission mail to them


async def _asked(
    conn: Connection | asyncpg.Pool, mailing_id: int, subscriber_id: int
) -> tuple[asyncpg.Record, asyncpg.Record] | Answer:
    """(campaign, recipient row) of an active reader this mailing asked, else why not."""
    campaign = await conn.fetchrow(Q["campaign_of_mailing"], mailing_id)
    if campaign is None:
        return Answer.NOT_ASKED
    asked = await conn.fetchrow(Q["recipient"], campaign["campaign_id"], subscriber_id)
    if asked is None:
        return Answer.NOT_ASKED
    if asked["status"] != "active":
        return Answer.NOT_ACTIVE
    return campaign, asked


async def current_answer(pool: asyncpg.Pool, mailing_id: int, subscriber_id: int) -> Answer | None:
    """What a "yes" would find, changing nothing (None: asked, not answered, active)."""
    found = await _asked(pool, mailing_id, subscriber_id)
    if isinstance(found, Answer):
        return found
    return Answer.ALREADY if found[1]["answered_at"] is not None else None


async def answer_yes(
    pool: asyncpg.Pool, mailing_id: int, subscriber_id: int, context: Context
) -> Answer:
    """Record a reader's yes, once: the answer and a consent entry in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        found = await _asked(conn, mailing_id, subscriber_id)
        if isinstance(found, Answer):
            return found
        campaign, asked = found
        if await conn.fetchrow(Q["mark_answered"], campaign["campaign_id"], subscriber_id) is None:
            return Answer.ALREADY
        await record_consent(
            conn, subscriber_id=subscriber_id, email=asked["email"], action="repermission",
            context=context, detail={"campaign_id": campaign["campaign_id"], "answer": "yes"},
        )  # fmt: skip
        await record_event(
            conn, "subscriber.kept", "subscriber", subscriber_id,
            {"campaign_id": campaign["campaign_id"]},
        )  # fmt: skip
    return Answer.KEPT


async def remove_unanswered(
    pool: asyncpg.Pool, campaign_id: int, *, confirm: int | None, by: str
) -> int:
    """After the answer window, unsubscribe those who did not answer, once the editor
    gives back the count shown; one transaction, recorded like any unsubscribe (a consent
    entry with the reason, the subscriber.unsubscribed event). Returns how many."""
    async with pool.acquire() as conn, conn.transaction():
        campaign = await _locked(conn, campaign_id)
        if campaign["status"] != "open":
            raise Conflict(f"re-permission campaign {campaign_id} is {campaign['status']}")
        if campaign["answer_by"] > datetime.now(UTC):
            raise Conflict(
                f"readers have until {campaign['answer_by']:%d %B %Y %H:%M} UTC to answer: "
                "nobody is removed before then"
            )
        rows = await conn.fetch(Q["unanswered"], campaign_id, campaign["sent_at"])
        notices.check_confirmation("removal", len(rows), confirm)
        ids = [r["subscriber_id"] for r in rows]
        await conn.execute(Q["unsubscribe_many"], ids)
        await conn.execute(Q["cancel_queued_for_many"], ids)
        context = Context(source=f"re-permission campaign {campaign_id}, confirmed by {by}")
        detail = {"reason": NO_ANSWER, "campaign_id": campaign_id}
        for row in rows:
            await record_consent(
                conn, subscriber_id=row["subscriber_id"], email=row["email"],
                action="unsubscribe", context=context, detail=detail,
            )  # fmt: skip
        await record_events(
            conn,
            [("subscriber.unsubscribed", "subscriber", i, {"reason": NO_ANSWER}) for i in ids],
        )
        await conn.execute(Q["close_campaign"], campaign_id, "closed", len(ids), by)
        await record_event(
            conn, "repermission.closed", "repermission", campaign_id,
            {"removed": len(ids), "by": by},
        )  # fmt: skip
    return len(ids)
