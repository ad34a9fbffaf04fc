"""What alerts and correction notices share: a mailing drafted with its recipient count,
which an editor confirms by giving that count back before it is fanned out and sent."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from mailer.config import Settings
from mailer.db import Connection, load_queries
from mailer.delivery import mailings, queue, template_versions
from mailer.editorial.render_parts import render_parts
from mailer.errors import Conflict, InvalidInput
from mailer.events import record_event
from mailer.numbers import people

Q = load_queries("editorial/alerts")

# Lower is claimed first. Transactional mail (confirmations) is claimed before any mailing.
ALERT_PRIORITY = 10
CORRECTION_PRIORITY = 15  # digests are 20


class AudienceChanged(Conflict):
    """The audience moved too far from the count the editor confirmed."""

    def __init__(self, message: str, *, current: int) -> None:
        self.current = current
        super().__init__(message)


@dataclass(frozen=True)
class Draft:
    """A notice waiting for its sender to confirm the recipient count."""

    notice_id: int  # the alert's mailing id, or the correction's id
    mailing_id: int | None
    item_id: int
    recipients: int
    subject: str
    created: bool = True  # False: an open draft for the item existed and was reused

    def as_json(self, what: str) -> dict[str, Any]:
        return {
            f"{what}_id": self.notice_id,
            "mailing_id": self.mailing_id,
            "item_id": self.item_id,
            "status": "draft" if self.mailing_id else "nobody_to_notify",
            "subject": self.subject,
            "recipients": self.recipients,
            "created": self.created,
        }


def list_id(settings: Settings, stream: str) -> str:
    """The List-Id of a stream (alerts, corrections): mail clients filter and mute by it."""
    return f"{settings.organisation} {stream} <{stream}.{settings.bounce_domain}>"


def archive_slug(prefix: str, now: datetime) -> str:
    return f"{prefix}-{now:%Y-%m-%d}-{secrets.token_hex(3)}"


def audience_count_sql(audience: str) -> str:
    return f"SELECT count(*) FROM ({audience}) AS audience"


def fan_out_sql(audience: str, kind: str, *, carries_item: bool) -> str:
    """One delivery per person of an audience query whose $1 is the item; $3 is the
    mailing. A delivery that carries the item is in the digest ledger."""
    item_ids = "ARRAY[$1::bigint]" if carries_item else "NULL::bigint[]"
    return (
        "INSERT INTO deliveries (mailing_id, subscriber_id, kind, recipient, item_ids) "
        f"SELECT $3, a.subscriber_id, '{kind}', a.email, {item_ids} FROM ({audience}) AS a "
        "ON CONFLICT (mailing_id, subscriber_id) DO NOTHING"
    )


async def check_template(
    conn: Connection | asyncpg.Pool, settings: Settings, kind: str, content: dict[str, Any]
) -> None:
    """Compile the template in force as the workers will (a version saved in the console,
    else the files): a broken one stops the send here."""
    saved = (await template_versions.in_force(conn)).sources
    try:
        render_parts(settings, content, kind=kind, saved=saved)
    except Conflict as problem:
        raise Conflict(f"{problem}; nothing was sent") from problem


async def preview(
    pool: asyncpg.Pool, settings: Settings, kind: str, content: dict[str, Any]
) -> dict[str, Any]:
    """A notice as a reader would see it (with the template in force), no personal links."""
    saved = (await template_versions.in_force(pool)).sources
    html, text = render_parts(settings, content, kind=kind, saved=saved)
    return {"subject": content["subject"], "html": html, "text": text}


def check_confirmation(what: str, stored: int, confirmed: int | None) -> None:
    """The sender must give back the count they were shown: proof they saw it."""
    if confirmed is None:
        raise InvalidInput(
            f"confirm the recipient count to send this {what}",
            {"confirm": f"required: the recipient count shown ({stored})"},
        )
    if confirmed != stored:
        raise Conflict(
            f"this {what} goes to {people(stored)}, not {confirmed:,}: confirm {stored} to send it"
        )


def check_drift(what: str, confirmed: int, current: int) -> None:
    """People join and leave between the draft and the send; a large change (e.g. the item's
    topics were edited) must be confirmed again."""
    if abs(current - confirmed) > max(5, confirmed // 10):
        raise AudienceChanged(
            f"the audience of this {what} changed from {confirmed:,} to {people(current)} "
            f"since it was drafted: confirm {current} to send it",
            current=current,
        )


async def create_mailing(
    conn: Connection, settings: Settings, *, kind: str, stream: str, priority: int,
    subject: str, content: dict[str, Any], slug: str | None,
) -> int:  # fmt: skip
    mailing_id: int = await conn.fetchval(
        Q["create_notice_mailing"], kind, priority, subject, list_id(settings, stream), content,
        slug,
    )  # fmt: skip
    return mailing_id


async def start(
    conn: Connection, *, mailing_id: int, kind: str, fan_out: str, args: tuple[Any, ...],
    payload: dict[str, Any],
) -> int:  # fmt: skip
    """draft -> sending and the fan-out, in the caller's transaction; returns how many
    deliveries were made. Workers claim them by the mailing's priority."""
    if await mailings.begin_sending(conn, mailing_id) is None:
        raise Conflict(f"{kind} {mailing_id} is no longer a draft")
    created = await mailings.fan_out(conn, fan_out, *args, mailing_id)
    await record_event(
        conn, f"{kind}.sending", kind, mailing_id, {**payload, "recipients": created}
    )
    await queue.wake_workers(conn)
    return created


async def confirm_draft(
    pool: asyncpg.Pool, send: Callable[[Connection], Awaitable[int]], store_count: str,
    notice_id: int,
) -> int:  # fmt: skip
    """Send a draft in one transaction; when the audience changed too much, the draft's
    count is updated to the new one (`store_count`: notice id, count) and AudienceChanged
    tells the sender to confirm it."""
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                return await send(conn)
        except AudienceChanged as changed:
            await conn.execute(store_count, notice_id, changed.current)
            raise
