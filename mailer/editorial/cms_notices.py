"""A CMS content push with an `urgent` flag (an alert) or a `correction` note (a correction
of an item already sent): all in the push's one transaction, so a refusal stores nothing.

What the CMS may do is a setting: MAILER_CMS_ALERTS=off refuses urgent pushes (403), draft
makes an alert that waits for an editor's confirmation, send sends it at once;
MAILER_CMS_CORRECTIONS=draft|send does the same for correction notices. At most
MAILER_CMS_ALERTS_PER_HOUR alerts come from the CMS per hour (more: 429 with Retry-After).
A CMS pushes the same item again and again: a re-push never repeats an alert that went out,
and a correction note already recorded is not recorded twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg

from mailer.config import NoticeMode, Settings
from mailer.content.push import parse_push, store_push
from mailer.db import Connection
from mailer.editorial import alerts, corrections
from mailer.editorial.notices import Draft
from mailer.errors import Conflict, Forbidden, InvalidInput, RateLimited

AQ = alerts.Q
CQ = corrections.Q
CMS = "cms"


@dataclass(frozen=True)
class Flags:
    index: int  # in the push's items, for error fields
    urgent: bool
    correction: str | None
    retracted: bool


def parse_flags(body: dict[str, Any]) -> dict[str, Flags]:
    """The urgent and correction fields of each pushed item, by the CMS's id."""
    raw_items = body.get("items") if "items" in body else ([body] if "id" in body else [])
    problems: dict[str, str] = {}
    found: dict[str, Flags] = {}
    for index, raw in enumerate(raw_items if isinstance(raw_items, list) else []):
        if not isinstance(raw, dict) or raw.get("id") is None:
            continue  # parse_push reports it
        where = f"items[{index}]"
        urgent, note, retracted = raw.get("urgent"), raw.get("correction"), raw.get("retracted")
        if urgent is not None and not isinstance(urgent, bool):
            problems[f"{where}.urgent"] = "must be true or false"
        if retracted is not None and not isinstance(retracted, bool):
            problems[f"{where}.retracted"] = "must be true or false"
        if note is not None and (not isinstance(note, str) or not note.strip()):
            problems[f"{where}.correction"] = "a note saying what changed and why"
        elif isinstance(note, str) and len(note) > corrections.MAX_NOTE:
            problems[f"{where}.correction"] = f"at most {corrections.MAX_NOTE} characters"
        if retracted and not isinstance(note, str):
            problems[f"{where}.correction"] = "a retraction needs a note saying why"
        if urgent and (retracted or note is not None):
            problems[f"{where}.urgent"] = "a corrected or retracted item cannot be an alert"
        if urgent or note is not None or retracted:
            found[str(raw["id"]).strip()[:500]] = Flags(
                index, bool(urgent), note.strip() if isinstance(note, str) else None,
                bool(retracted),
            )  # fmt: skip
    if problems:
        raise InvalidInput("invalid push", problems)
    return found


async def push_content(
    pool: asyncpg.Pool, settings: Settings, body: dict[str, Any]
) -> dict[str, Any]:
    """Store the push, then its alerts and corrections; one transaction, all or nothing."""
    parsed = parse_push(body)
    flags = parse_flags(body)
    urgent = {guid: f for guid, f in flags.items() if f.urgent}
    if urgent and settings.cms_alerts is NoticeMode.OFF:
        raise Forbidden(
            "alerts from the CMS are turned off (MAILER_CMS_ALERTS=off); nothing was stored: "
            "push the items without `urgent`, or ask an editor to send the alert"
        )
    async with pool.acquire() as conn, conn.transaction():
        before = {r["guid"]: r for r in await conn.fetch(CQ["pushed_versions"], list(flags))}
        outcome = await store_push(conn, parsed)
        ids = {entry["id"]: entry["item_id"] for entry in outcome.items}
        for guid, f in flags.items():
            if ids.get(guid) is None:
                raise InvalidInput(
                    "invalid push",
                    {f"items[{f.index}]": "this link is another source's item: it cannot "
                                          "carry urgent or correction here"},
                )  # fmt: skip
        fixed = [
            await _correction(conn, settings, guid, ids[guid], f, before.get(guid))
            for guid, f in flags.items()
            if f.correction is not None
        ]
        sent = [await _alert(conn, settings, guid, ids[guid], f) for guid, f in urgent.items()]
    answer: dict[str, Any] = {
        "items": outcome.items,
        "deleted": outcome.deleted,
        "hidden": outcome.hidden,
    }
    if flags:  # a plain push keeps the plain answer
        answer |= {"alerts": sent, "corrections": fixed}
    return answer


async def _alert(
    conn: Connection, settings: Settings, guid: str, item_id: int, flags: Flags
) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": guid, "item_id": item_id}
    done = await conn.fetchrow(AQ["alerted_already"], item_id)
    if done is not None:
        return entry | {"alert_id": done["mailing_id"], "status": "sent_already",
                        "message": "this item went out as an alert already"}  # fmt: skip
    await conn.execute(AQ["lock_cms_alert_limit"])
    try:
        draft = await alerts.draft_alert(
            conn, settings, item_id, origin=CMS, requested_by="cms (content webhook)"
        )
    except alerts.NobodyToAlert as nobody:
        return entry | {"status": "nobody_to_alert", "message": str(nobody)}
    except Conflict as refused:  # no topic, hidden: the push itself is wrong
        raise InvalidInput("invalid push", {f"items[{flags.index}].urgent": str(refused)}) from None
    if draft.created:
        await _check_rate(conn, settings)
    entry |= {"alert_id": draft.notice_id, "recipients": draft.recipients}
    return await _send_or_wait(
        entry, draft, "alerts", settings.cms_alerts,
        lambda: alerts.send_alert(conn, settings, draft.notice_id, confirmed=draft.recipients,
                                  confirmed_by="cms (MAILER_CMS_ALERTS=send)"),
    )  # fmt: skip


async def _send_or_wait(
    entry: dict[str, Any], draft: Draft, plural: str, mode: NoticeMode,
    send: Callable[[], Awaitable[int]],
) -> dict[str, Any]:  # fmt: skip
    """Send at once when the setting says so (the CMS confirms the count it was given),
    else leave the draft for an editor and say how to send it."""
    if mode is NoticeMode.SEND:
        return entry | {"status": "sending", "recipients": await send()}
    return entry | {
        "status": "draft",
        "message": f"awaiting an editor: POST /api/v1/{plural}/{draft.notice_id}/send "
        f'with {{"confirm": {draft.recipients}}}',
    }


async def _check_rate(conn: Connection, settings: Settings) -> None:
    """Counted after the draft exists (the advisory lock keeps racing pushes in line)."""
    window = await conn.fetchrow(AQ["cms_alerts_last_hour"])
    assert window is not None
    if window["made"] > settings.cms_alerts_per_hour:
        frees_in: timedelta = window["frees_in"] or timedelta(hours=1)
        raise RateLimited(
            f"too many alerts from the CMS: at most {settings.cms_alerts_per_hour} an hour; "
            "nothing was stored. An editor can still send one (POST /api/v1/alerts)",
            retry_after=max(frees_in.total_seconds(), 1.0),
        )


async def _correction(
    conn: Connection, settings: Settings, guid: str, item_id: int, flags: Flags,
    before: asyncpg.Record | None,
) -> dict[str, Any]:  # fmt: skip
    entry: dict[str, Any] = {"id": guid, "item_id": item_id}
    note = " ".join((flags.correction or "").split())
    if before is not None and before["last_note"] == note:
        return entry | {"status": "recorded_already"}
    if before is None or not await conn.fetchval(CQ["was_sent"], item_id):
        return entry | {"status": "not_sent", "message": "the item was never mailed: it was "
                        "updated, and there is nobody to notify"}  # fmt: skip
    old = corrections.Version(before["title"], before["summary_html"], before["summary_text"])
    draft = await corrections.record_correction(
        conn, settings, item_id, corrections.Change(note, retract=flags.retracted),
        origin=CMS, requested_by="cms (content webhook)", before=old,
    )  # fmt: skip
    entry |= {"correction_id": draft.notice_id, "recipients": draft.recipients}
    if draft.mailing_id is None:
        return entry | {"status": "nobody_to_notify"}
    return await _send_or_wait(
        entry, draft, "corrections", settings.cms_corrections,
        lambda: corrections.send_notice(conn, settings, draft.notice_id,
                                        confirmed=draft.recipients,
                                        confirmed_by="cms (MAILER_CMS_CORRECTIONS=send)"),
    )  # fmt: skip
