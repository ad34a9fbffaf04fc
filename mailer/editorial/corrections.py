"""Corrections and retractions of items already sent, and the notice that tells exactly the
people who received the item (found in the delivery ledger, whatever their topics are now).

A correction is recorded, and the item changed, at once (the archive shows it); its notice
is drafted with the recipient count and sent when the sender confirms that count, like an
alert. One open notice per item at a time; none while a mailing carrying the item is still
sending (its copies carry the old text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from mailer.config import Settings
from mailer.content.sanitise import clean_line, sanitise_html, to_text
from mailer.db import Connection, load_queries, record_json
from mailer.delivery import mailings
from mailer.editorial import notices
from mailer.editorial.notices import Draft
from mailer.errors import Conflict, InvalidInput, NotFound
from mailer.events import record_event

Q = load_queries("editorial/corrections")
AQ = notices.Q
KIND = "correction"
MAX_NOTE = 2000
_AUDIENCE = Q["correction_audience"]
_COUNT = notices.audience_count_sql(_AUDIENCE)
_FAN_OUT = notices.fan_out_sql(_AUDIENCE, KIND, carries_item=False)


@dataclass(frozen=True)
class Change:
    """What an editor (or the CMS) says changed; title/summary None: unchanged."""

    note: str
    retract: bool = False
    title: str | None = None
    summary_html: str | None = None


@dataclass(frozen=True)
class Version:
    title: str
    summary_html: str
    summary_text: str


def _check(change: Change) -> tuple[str, str | None]:
    problems = {}
    note = " ".join(change.note.split()) if isinstance(change.note, str) else ""
    if not 1 <= len(note) <= MAX_NOTE:
        problems["note"] = f"required: what changed and why, at most {MAX_NOTE} characters"
    title = clean_line(change.title, 300) if change.title is not None else None
    if change.title is not None and not title:
        problems["title"] = "must not be empty"
    if problems:
        raise InvalidInput("invalid correction", problems)
    return note, title


async def check_correctable(conn: Connection, item_id: int) -> None:
    """Refuse, with the reason, a correction notice that cannot be made now."""
    if not await conn.fetchval(Q["was_sent"], item_id):
        raise Conflict(
            f"item {item_id} was never sent to anyone, so there is nobody to notify: "
            f"edit it instead (PATCH /api/v1/items/{item_id})"
        )
    still = await conn.fetchrow(Q["item_still_sending"], item_id)
    if still is not None:
        raise Conflict(
            f"item {item_id} is still being sent in {still['kind']} {still['mailing_id']} "
            f"({still['status']}): wait until it is sent, or cancel it, then correct the item"
        )
    open_notice = await conn.fetchrow(Q["open_notice_for_item"], item_id)
    if open_notice is not None:
        state = "is still sending" if open_notice["status"] != "draft" else "awaits confirmation"
        raise Conflict(
            f"correction {open_notice['correction_id']} of item {item_id} {state} "
            f"(mailing {open_notice['mailing_id']}): send or cancel it before another one"
        )


def content(settings: Settings, row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    """The correction template's context (templates/email/correction/)."""
    retraction = row["kind"] == "retraction"
    prefix = settings.correction_subject_prefix
    title = row["old_title"] if retraction else row["new_title"]
    return {
        "subject": f"{prefix} {'Retracted: ' if retraction else ''}{title}".strip(),
        "preheader": row["note"][:150],
        "retraction": retraction,
        "note": row["note"],
        "date": f"{row['created_at']:%d %B %Y}",
        "date_on": row["created_at"].date().isoformat(),  # written the reader's way
        "title": title,
        "old_title": row["old_title"],
        "title_changed": row["old_title"] != row["new_title"],
        "summary_changed": row["old_summary_text"] != row["new_summary_text"],
        "old_summary_text": row["old_summary_text"],
        "new_summary_text": row["new_summary_text"],
        "old_summary_html": row["old_summary_html"],
        "new_summary_html": row["new_summary_html"],
        "item_url": f"{settings.base_url}/archive/items/{row['item_id']}",
        "item_id": row["item_id"],  # the link's redirect counts clicks for this item
    }


async def record_correction(
    conn: Connection, settings: Settings, item_id: int, change: Change, *, origin: str,
    requested_by: str, before: Version | None = None,
) -> Draft:  # fmt: skip
    """Record a correction (or retraction) of a sent item and draft its notice, in the
    caller's transaction. `before`: the item as it was when the caller changed it already
    (a CMS update); otherwise the change's title and summary are applied here. The notice
    is left out (mailing_id None) when none of the receivers can be mailed any more."""
    note, title = _check(change)
    item = await conn.fetchrow(AQ["lock_item"], item_id)
    if item is None:
        raise NotFound(f"item {item_id} does not exist")
    await check_correctable(conn, item_id)
    old = before or Version(item["title"], item["summary_html"], item["summary_text"])
    new_summary = (
        sanitise_html(change.summary_html, item["link"])
        if change.summary_html is not None
        else item["summary_html"]
    )
    new = Version(title or item["title"], new_summary, to_text(new_summary))
    edited = title is not None or change.summary_html is not None
    await conn.execute(Q["apply_correction"], item_id, new.title, new.summary_html,
                       new.summary_text, change.retract, edited)  # fmt: skip
    kind = "retraction" if change.retract else "correction"
    row = await conn.fetchrow(
        Q["create_correction"], item_id, kind, note, old.title, new.title, old.summary_html,
        new.summary_html, old.summary_text, new.summary_text, origin, requested_by,
    )  # fmt: skip
    assert row is not None
    correction_id: int = row["correction_id"]
    await record_event(
        conn, "item.corrected", "item", item_id,
        {"correction_id": correction_id, "kind": kind, "note": note, "by": requested_by},
    )  # fmt: skip
    body = content(settings, {"item_id": item_id, "kind": kind, "note": note,
                              "created_at": row["created_at"], "old_title": old.title,
                              "new_title": new.title, "old_summary_text": old.summary_text,
                              "new_summary_text": new.summary_text,
                              "old_summary_html": old.summary_html,
                              "new_summary_html": new.summary_html})  # fmt: skip
    recipients: int = await conn.fetchval(_COUNT, item_id, row["created_at"])
    if recipients == 0:
        return Draft(correction_id, None, item_id, 0, body["subject"])
    mailing_id = await notices.create_mailing(
        conn, settings, kind=KIND, stream="corrections", priority=notices.CORRECTION_PRIORITY,
        subject=body["subject"], content=body, slug=None,  # the item's page is its web version
    )  # fmt: skip
    await conn.execute(Q["attach_notice"], correction_id, mailing_id, recipients)
    await record_event(
        conn, "correction.drafted", KIND, mailing_id,
        {"correction_id": correction_id, "item_id": item_id, "recipients": recipients},
    )  # fmt: skip
    return Draft(correction_id, mailing_id, item_id, recipients, body["subject"])


async def send_notice(
    conn: Connection, settings: Settings, correction_id: int, *, confirmed: int | None,
    confirmed_by: str,
) -> int:  # fmt: skip
    """Send a drafted notice whose recipient count was confirmed (caller's transaction);
    returns the deliveries made."""
    row = await conn.fetchrow(Q["lock_correction"], correction_id)
    if row is None:
        raise NotFound(f"correction {correction_id} does not exist")
    if row["mailing_id"] is None:
        raise Conflict(f"correction {correction_id} has no notice: nobody could be told")
    if row["status"] != "draft":
        raise Conflict(f"the notice of correction {correction_id} is {row['status']}")
    notices.check_confirmation("correction notice", row["recipients"], confirmed)
    current: int = await conn.fetchval(_COUNT, row["item_id"], row["created_at"])
    notices.check_drift("correction notice", row["recipients"], current)
    await notices.check_template(conn, settings, KIND, content(settings, row))
    await conn.execute(Q["confirm_correction"], correction_id, confirmed_by)
    return await notices.start(
        conn, mailing_id=row["mailing_id"], kind=KIND, fan_out=_FAN_OUT,
        args=(row["item_id"], row["created_at"]),
        payload={"correction_id": correction_id, "item_id": row["item_id"], "by": confirmed_by},
    )  # fmt: skip


async def correct(
    pool: asyncpg.Pool, settings: Settings, item_id: int, change: Change, *, requested_by: str
) -> Draft:
    """An editor's correction (one transaction)."""
    async with pool.acquire() as conn, conn.transaction():
        return await record_correction(
            conn, settings, item_id, change, origin="editor", requested_by=requested_by
        )


async def confirm(
    pool: asyncpg.Pool, settings: Settings, correction_id: int, *, confirmed: int | None,
    confirmed_by: str,
) -> int:  # fmt: skip
    """Send a notice (one transaction); see notices.confirm_draft."""
    return await notices.confirm_draft(
        pool,
        lambda conn: send_notice(
            conn, settings, correction_id, confirmed=confirmed, confirmed_by=confirmed_by
        ),
        Q["set_correction_recipients"],
        correction_id,
    )


async def list_corrections(
    pool: asyncpg.Pool, *, item_id: int | None = None, status: str | None = None,
    correction_id: int | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    rows = await pool.fetch(Q["list_corrections"], item_id, status, correction_id)
    return [record_json(r) for r in rows]


async def get_correction(pool: asyncpg.Pool, correction_id: int) -> dict[str, Any]:
    found = await list_corrections(pool, correction_id=correction_id)
    if not found:
        raise NotFound(f"correction {correction_id} does not exist")
    return found[0]


async def notice_content(pool: asyncpg.Pool, correction_id: int) -> dict[str, Any]:
    """The notice's template context, as drafted (for previews)."""
    found = await get_correction(pool, correction_id)
    if found["mailing_id"] is None:
        raise Conflict(f"correction {correction_id} has no notice: nobody could be told")
    mailing = await mailings.get_mailing(pool, found["mailing_id"])
    assert mailing is not None
    body: dict[str, Any] = mailing["content"]
    return body
