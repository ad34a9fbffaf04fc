"""What editors and integrators see of the click counts: per mailing (items ranked, topics,
days), per item (across digests, alerts and corrections), CSV rows, and the daily event.
Every figure goes through the Publisher (exact, or with differential-privacy noise)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import asyncpg

from mailer.config import Settings
from mailer.db import load_queries
from mailer.errors import NotFound
from mailer.events import record_event
from mailer.feedback.noise import Publisher

Q = load_queries("feedback/click_reports")
CSV_COLUMNS = ("day", "mailing_id", "kind", "item_id", "title", "link", "clicks", "filtered")


def _published(publisher: Publisher, key: str, row: Any, **extra: Any) -> dict[str, Any]:
    """A row's clicks and filtered as published, each with its own noise."""
    return extra | {
        "clicks": publisher.figure(f"{key}:clicks", int(row["clicks"])),
        "filtered": publisher.figure(f"{key}:filtered", int(row["filtered"])),
    }


def _ranked(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: (-e["clicks"], -e["filtered"]))


def _days(publisher: Publisher, key: str, rows: Iterable[Any]) -> list[dict[str, Any]]:
    return [
        _published(publisher, f"{key}:day:{r['day']}", r, day=r["day"].isoformat()) for r in rows
    ]


def _when(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


async def list_mailings(
    pool: asyncpg.Pool, publisher: Publisher, *, limit: int = 50
) -> list[dict[str, Any]]:
    """Sent digests, alerts and corrections, newest first, with their totals."""
    rows = await pool.fetch(Q["list_clicked_mailings"], limit)
    return [
        _published(
            publisher, f"mailing:{r['mailing_id']}", r,
            mailing_id=r["mailing_id"], kind=r["kind"], subject=r["subject"],
            started_at=_when(r["started_at"]),
        )
        for r in rows
    ]  # fmt: skip


async def mailing_report(
    pool: asyncpg.Pool, publisher: Publisher, mailing_id: int
) -> dict[str, Any]:
    """One mailing: its items ranked by clicks, clicks per topic, and per day."""
    mailing = await pool.fetchrow(Q["get_mailing"], mailing_id)
    if mailing is None:
        raise NotFound(f"mailing {mailing_id} does not exist")
    key = f"mailing:{mailing_id}"
    items = [
        _published(publisher, f"{key}:item:{r['item_id']}", r,
                   item_id=r["item_id"], title=r["title"])
        for r in await pool.fetch(Q["mailing_item_clicks"], mailing_id)
    ]  # fmt: skip
    topics = [
        _published(publisher, f"{key}:topic:{r['topic_id']}", r,
                   topic_id=r["topic_id"], topic=r["name"])
        for r in await pool.fetch(Q["mailing_topic_clicks"], mailing_id)
    ]  # fmt: skip
    days = _days(publisher, key, await pool.fetch(Q["mailing_day_clicks"], mailing_id))
    total = {"clicks": sum(d["clicks"] for d in days), "filtered": sum(d["filtered"] for d in days)}
    return {
        "mailing_id": mailing_id,
        "kind": mailing["kind"],
        "subject": mailing["subject"],
        "status": mailing["status"],
        "started_at": _when(mailing["started_at"]),
        "total": total,
        "items": _ranked(items),
        "topics": _ranked(topics),
        "days": days,
        "noise": publisher.describe(),
    }


async def item_report(pool: asyncpg.Pool, publisher: Publisher, item_id: int) -> dict[str, Any]:
    """One item across the digests, alerts and corrections that carried it, and per day."""
    item = await pool.fetchrow(Q["get_item"], item_id)
    if item is None:
        raise NotFound(f"item {item_id} does not exist")
    mailings = [
        _published(publisher, f"mailing:{r['mailing_id']}:item:{item_id}", r,
                   mailing_id=r["mailing_id"], kind=r["kind"], subject=r["subject"],
                   started_at=_when(r["started_at"]))
        for r in await pool.fetch(Q["item_mailing_clicks"], item_id)
    ]  # fmt: skip
    days = _days(publisher, f"item:{item_id}", await pool.fetch(Q["item_day_clicks"], item_id))
    total = {"clicks": sum(d["clicks"] for d in days), "filtered": sum(d["filtered"] for d in days)}
    return {
        "item_id": item_id,
        "title": item["title"],
        "link": item["link"],
        "total": total,
        "mailings": mailings,
        "days": days,
        "noise": publisher.describe(),
    }


async def csv_rows(
    pool: asyncpg.Pool, publisher: Publisher, *, mailing_id: int | None = None,
    item_id: int | None = None,
) -> str:  # fmt: skip
    """The counts of one mailing or one item, a row per (mailing, item, link, day), as CSV."""
    if mailing_id is not None:
        if await pool.fetchrow(Q["get_mailing"], mailing_id) is None:
            raise NotFound(f"mailing {mailing_id} does not exist")
        rows = await pool.fetch(Q["mailing_click_rows"], mailing_id)
    else:
        if await pool.fetchrow(Q["get_item"], item_id) is None:
            raise NotFound(f"item {item_id} does not exist")
        rows = await pool.fetch(Q["item_click_rows"], item_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        key = f"mailing:{r['mailing_id']}:item:{r['item_id']}:link:{r['link']}:day:{r['day']}"
        shown = _published(publisher, key, r)
        title = r["title"]
        if title[:1] in ("=", "+", "-", "@"):  # no formula when opened in a spreadsheet
            title = "'" + title
        writer.writerow([r["day"].isoformat(), r["mailing_id"], r["kind"], r["item_id"], title,
                         r["link"], shown["clicks"], shown["filtered"]])  # fmt: skip
    return out.getvalue()


async def report_day(pool: asyncpg.Pool, publisher: Publisher, day: date) -> bool:
    """Record the `clicks.daily` event with `day`'s totals, once (of several instances and
    ticks, one does it); True if this call did. One transaction."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(Q["mark_day_reported"], day) is None:
            return False
        rows = await conn.fetch(Q["day_mailing_clicks"], day)
        mailings = [
            _published(publisher, f"mailing:{r['mailing_id']}:day:{day}", r,
                       mailing_id=r["mailing_id"], kind=r["kind"], subject=r["subject"])
            for r in rows
        ]  # fmt: skip
        payload = {
            "day": day.isoformat(),
            "clicks": sum(m["clicks"] for m in mailings),
            "filtered": sum(m["filtered"] for m in mailings),
            "mailings": mailings,
            "noise": publisher.describe(),
        }
        subject_id = day.year * 10000 + day.month * 100 + day.day
        await record_event(conn, "clicks.daily", "clicks", subject_id, payload)
    return True


async def report_yesterday(pool: asyncpg.Pool, publisher: Publisher, today: date) -> bool:
    """The daily tick: yesterday (UTC) is complete, so its totals go out."""
    return await report_day(pool, publisher, today - timedelta(days=1))


def publisher(settings: Settings) -> Publisher:
    """The figures' publisher: noise seeded from the signing key when an epsilon is set."""
    return Publisher(
        settings.signing_keys[0] if settings.signing_keys else "", settings.clicks.epsilon
    )
