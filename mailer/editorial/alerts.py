"""Urgent alerts: one item, at once, to the active subscribers of its topics who accept
alerts. Drafted with the recipient count, sent only when that count is confirmed.

Alerts bypass cadence (no series, no schedule) but never consent: fan-out takes only active,
unpaused subscribers, and every claim re-checks unsubscribes, pauses and suppressions.
Functions taking a connection work in the caller's transaction (the CMS push uses them
inside its own); the pool ones are one transaction each.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg

from mailer.config import Settings
from mailer.db import Connection, record_json
from mailer.delivery.compose import SlotProvider
from mailer.editorial import notices
from mailer.editorial.notices import Draft, Q
from mailer.editorial.overview import keep_counts
from mailer.errors import Conflict, NotFound
from mailer.events import record_event
from mailer.i18n import N_, languages, translations
from mailer.models import ClaimedDelivery
from mailer.tokens import Purpose, Signer

KIND = "alert"


class NobodyToAlert(Conflict):
    """No active, alert-accepting subscriber of the item's topics is left to receive it."""


_AUDIENCE = Q["alert_audience"]
_COUNT = notices.audience_count_sql(_AUDIENCE)
_FAN_OUT = notices.fan_out_sql(_AUDIENCE, KIND, carries_item=True)


async def lock_sendable_item(conn: Connection, item_id: int) -> asyncpg.Record:
    """The item, locked, if it can go out as an alert; Conflict saying why not."""
    item = await conn.fetchrow(Q["lock_item"], item_id)
    if item is None:
        raise NotFound(f"item {item_id} does not exist")
    if item["hidden"]:
        raise Conflict(f"item {item_id} is hidden (or retracted): it cannot be sent as an alert")
    if not item["topic_ids"]:
        raise Conflict(
            f"item {item_id} has no topic: an alert goes to the subscribers of the item's "
            "topics, so give it a topic first"
        )
    return item


# The default subject prefix is translated; one an operator chose is kept as written.
DEFAULT_PREFIX = N_("[Alert]")


def _item_view(item: Mapping[str, Any] | asyncpg.Record, archive_url: str) -> dict[str, Any]:
    published = item["published_at"]
    if isinstance(published, str):
        published = datetime.fromisoformat(published)
    return {
        "item_id": item["item_id"],
        "title": item["title"],
        "url": item["link"] or archive_url,
        "summary_html": item["summary_html"],
        "summary_text": item["summary_text"],
        "image_url": item["image_url"],
        "image_alt": item["image_alt"],
        "author": item["author"],
        "published": f"{published:%d %B %Y}",
        "published_on": published.date().isoformat(),  # written the reader's way
    }


def content(settings: Settings, item: asyncpg.Record, slug: str) -> dict[str, Any]:
    """The alert template's context (templates/email/alert/), with, per reader language,
    the item's version in that language (a translation linked by the CMS) and the subject."""
    archive_url = f"{settings.base_url}/archive/{slug}"
    prefix = settings.alert_subject_prefix
    raw = item.get("translations") or []
    versions = {t["language"]: t for t in (json.loads(raw) if isinstance(raw, str) else raw)}
    texts: dict[str, dict[str, Any]] = {}
    for language in languages():
        version = versions.get(language)
        title = version["title"] if version else item["title"]
        said = translations(language).gettext(prefix) if prefix == DEFAULT_PREFIX else prefix
        entry: dict[str, Any] = {"subject": f"{said} {title}".strip()}
        if version:
            entry["preheader"] = version["summary_text"][:150]
            entry["item"] = _item_view(version, archive_url)
        texts[language] = entry
    return {
        "subject": f"{prefix} {item['title']}".strip(),
        "preheader": item["summary_text"][:150],
        "topics": ", ".join(item["topic_names"]),
        "archive_url": archive_url,
        "item": _item_view(item, archive_url),
        "texts": texts,
    }


async def draft_alert(
    conn: Connection, settings: Settings, item_id: int, *, origin: str, requested_by: str
) -> Draft:
    """A draft alert of the item with its recipient count, in the caller's transaction.
    An open draft of the same item is reused (its count refreshed): drafting is idempotent.
    Refused: an unknown, hidden or topic-less item, one being sent as an alert right now,
    and an alert nobody would receive."""
    item = await lock_sendable_item(conn, item_id)
    recipients: int = await conn.fetchval(_COUNT, item_id, item["topic_ids"])
    existing = await conn.fetchrow(Q["open_alert_for_item"], item_id)
    if existing is not None and existing["status"] != "draft":
        raise Conflict(
            f"item {item_id} is being sent as alert {existing['mailing_id']} right now "
            f"({existing['status']})"
        )
    if recipients == 0:
        raise NobodyToAlert(
            f"nobody would receive an alert of item {item_id}: no active subscriber of its "
            f"topics ({', '.join(item['topic_names'])}) accepts alerts and has not received "
            "it already"
        )
    if existing is not None:
        await conn.execute(Q["set_alert_recipients"], existing["mailing_id"], recipients)
        subject = content(settings, item, "")["subject"]
        return Draft(existing["mailing_id"], existing["mailing_id"], item_id, recipients,
                     subject, created=False)  # fmt: skip
    slug = notices.archive_slug("alert", datetime.now(UTC))
    body = content(settings, item, slug)
    mailing_id = await notices.create_mailing(
        conn, settings, kind=KIND, stream="alerts", priority=notices.ALERT_PRIORITY,
        subject=body["subject"], content=body, slug=slug,
    )  # fmt: skip
    await conn.execute(Q["create_alert"], mailing_id, item_id, origin, requested_by, recipients)
    await conn.execute(Q["add_mailing_item"], mailing_id, item_id)
    await record_event(
        conn, "alert.drafted", KIND, mailing_id,
        {"item_id": item_id, "recipients": recipients, "origin": origin, "by": requested_by},
    )  # fmt: skip
    return Draft(mailing_id, mailing_id, item_id, recipients, body["subject"])


async def send_alert(
    conn: Connection, settings: Settings, alert_id: int, *, confirmed: int | None,
    confirmed_by: str,
) -> int:  # fmt: skip
    """Send a draft alert whose recipient count the sender confirmed, in the caller's
    transaction: the content is refreshed from the item, the audience fanned out and the
    workers woken. Returns the deliveries made. AudienceChanged (nothing written) when the
    audience moved far from the confirmed count."""
    alert = await conn.fetchrow(Q["lock_alert"], alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    if alert["status"] != "draft":
        raise Conflict(f"alert {alert_id} is {alert['status']}: only a draft can be sent")
    notices.check_confirmation("alert", alert["recipients"], confirmed)
    item = await lock_sendable_item(conn, alert["item_id"])
    current: int = await conn.fetchval(_COUNT, item["item_id"], item["topic_ids"])
    notices.check_drift("alert", alert["recipients"], current)
    body = content(settings, item, alert["slug"])
    await notices.check_template(conn, settings, KIND, body)
    await conn.execute(Q["update_notice_content"], alert_id, body["subject"], body)
    await conn.execute(Q["confirm_alert"], alert_id, confirmed_by)
    return await notices.start(
        conn, mailing_id=alert_id, kind=KIND, fan_out=_FAN_OUT,
        args=(item["item_id"], item["topic_ids"]),
        payload={"item_id": item["item_id"], "by": confirmed_by},
    )  # fmt: skip


async def create(
    pool: asyncpg.Pool, settings: Settings, item_id: int, *, requested_by: str
) -> Draft:
    """An editor's draft alert (one transaction)."""
    async with pool.acquire() as conn, conn.transaction():
        return await draft_alert(
            conn, settings, item_id, origin="editor", requested_by=requested_by
        )


async def confirm(
    pool: asyncpg.Pool, settings: Settings, alert_id: int, *, confirmed: int | None,
    confirmed_by: str,
) -> int:  # fmt: skip
    """Send a draft (one transaction); see notices.confirm_draft."""
    return await notices.confirm_draft(
        pool,
        lambda conn: send_alert(
            conn, settings, alert_id, confirmed=confirmed, confirmed_by=confirmed_by
        ),
        Q["set_alert_recipients"],
        alert_id,
    )


async def list_alerts(
    pool: asyncpg.Pool, *, status: str | None = None, alert_id: int | None = None
) -> list[dict[str, Any]]:
    await keep_counts(pool, None, "alert")  # each finished alert counted once, then read
    found = [record_json(r) for r in await pool.fetch(Q["list_alerts"], status, alert_id)]
    uncounted = [a["alert_id"] for a in found if a["sent"] is None]  # not finished
    if uncounted:
        sent = {r["mailing_id"]: r["sent"] for r in await pool.fetch(Q["count_sent"], uncounted)}
        for alert in found:
            if alert["sent"] is None:
                alert["sent"] = sent.get(alert["alert_id"], 0)
    return found


async def get_alert(pool: asyncpg.Pool, alert_id: int) -> dict[str, Any]:
    found = await list_alerts(pool, alert_id=alert_id)
    if not found:
        raise NotFound(f"alert {alert_id} does not exist")
    return found[0]


def alert_slots(signer: Signer, settings: Settings) -> SlotProvider:
    """An alert's unsubscribe link (and its List-Unsubscribe one-click) stops alerts only:
    the stream is separate, so leaving it keeps the digests. The footer also links to
    unsubscribing from everything."""

    def provide(delivery: ClaimedDelivery) -> Mapping[str, str]:
        base = settings.base_url
        if delivery.subscriber_id is None or delivery.key_version is None:
            return {"unsubscribe_all_url": f"{base}/"}
        token = signer.subscriber_token(
            Purpose.UNSUBSCRIBE, delivery.subscriber_id, delivery.key_version
        )
        return {
            "unsubscribe_url": f"{base}/unsubscribe/alerts/{token}",
            "unsubscribe_all_url": f"{base}/unsubscribe/{token}",
        }

    return provide


async def current_content(pool: asyncpg.Pool, settings: Settings, alert_id: int) -> dict[str, Any]:
    """The alert's template context: as sent, or for a draft as it would go now (the item
    may have been edited since it was drafted; the draft keeps the refreshed version)."""
    async with pool.acquire() as conn, conn.transaction():
        alert = await conn.fetchrow(Q["lock_alert"], alert_id)
        if alert is None:
            raise NotFound(f"alert {alert_id} does not exist")
        if alert["status"] == "draft":
            item = await conn.fetchrow(Q["lock_item"], alert["item_id"])
            assert item is not None
            body = content(settings, item, alert["slug"])
            await conn.execute(Q["update_notice_content"], alert_id, body["subject"], body)
            return body
        stored: dict[str, Any] = await conn.fetchval(Q["notice_content"], alert_id)
        return stored
