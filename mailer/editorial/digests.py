"""Digests: assembled from the feed for a series, edited by editors, scheduled, sent with
each recipient getting only the items of their topics that they never received."""

from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from email_validator import EmailNotValidError
from markdown_it import MarkdownIt

from mailer.addresses import normalise_email
from mailer.config import Settings
from mailer.content.sanitise import sanitise_html
from mailer.db import Connection, load_queries
from mailer.delivery import mailings, queue, template_versions
from mailer.editorial import digest_languages as by_language
from mailer.editorial.digest_sections import arrange, item_count
from mailer.editorial.render_parts import render_parts
from mailer.editorial.series import next_occurrence
from mailer.errors import Conflict, InvalidInput, NotFound
from mailer.events import record_event
from mailer.i18n import language_of
from mailer.numbers import whole_number

Q = load_queries("editorial/digests")
SQ = load_queries("editorial/series")
log = logging.getLogger(__name__)

MAX_ITEMS = 60
_FIRST_WINDOW = timedelta(days=7)  # a series' first digest looks back this far
# An item first seen after the last digest still counts as new if it is dated at most this
# long before it: feeds lag, and a story published as the digest went out was not in it.
_LATE_ARRIVAL = timedelta(days=2)
_EDITABLE = ("draft", "scheduled")
GROUPINGS = ("topic", "order")  # under topic headings, or exactly as ordered
# One delivery per person of the digest's audience, and the number "Send now" shows.
_FAN_OUT = (
    "INSERT INTO deliveries (mailing_id, subscriber_id, kind, recipient, item_ids, topic_ids) "
    "SELECT $1, a.subscriber_id, 'digest', a.email, a.item_ids, a.topic_ids "
    f"FROM ({Q['digest_audience']}) AS a ON CONFLICT (mailing_id, subscriber_id) DO NOTHING"
)
_COUNT = f"SELECT count(*) FROM ({Q['digest_audience']}) AS audience"
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False})


def intro_html(markdown: str) -> str:
    """Editors write Markdown; raw HTML in it is text, and the result is sanitised too."""
    return sanitise_html(_markdown.render(markdown)) if markdown.strip() else ""


def _list_id(series_slug: str | None, settings: Settings) -> str:
    host = settings.bounce_domain
    return f"{settings.organisation} {series_slug or 'digest'} <{series_slug or 'digest'}.{host}>"


async def create_digest(
    pool: asyncpg.Pool,
    settings: Settings,
    series_id: int,
    *,
    now: datetime,
    occurrence_at: datetime | None = None,
    subject: str | None = None,
) -> int | None:
    """A draft digest with the series' new items; None if this occurrence exists already
    (another instance made it). One transaction."""
    async with pool.acquire() as conn, conn.transaction():
        series = await conn.fetchrow(SQ["get_series"], series_id)
        if series is None:
            raise NotFound(f"series {series_id} does not exist")
        local = now.astimezone(_zone(series["timezone"]))
        title = subject or f"{series['name']} — {local:%d %B %Y}"
        slug = f"{series['slug']}-{local:%Y-%m-%d}-{secrets.token_hex(2)}"
        dated = "{}" if subject else by_language.dated_subjects(series["name"], local)
        mailing_id = await conn.fetchval(
            Q["create_digest"], title, _list_id(series["slug"], settings), series_id,
            occurrence_at, slug, dated,
        )  # fmt: skip
        if mailing_id is None:
            return None
        since = await conn.fetchval(Q["last_sent_start"], series_id) or now - _FIRST_WINDOW
        await conn.execute(
            Q["assemble_items"], mailing_id, series_id, since, MAX_ITEMS, _LATE_ARRIVAL
        )
        await conn.execute(Q["assemble_translations"], mailing_id)
        await refresh_content(conn, settings, mailing_id)
        await record_event(conn, "digest.drafted", "digest", mailing_id, {"series_id": series_id})
    return int(mailing_id)


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


async def refresh_content(conn: Connection, settings: Settings, mailing_id: int) -> dict[str, Any]:
    """Rebuild the template context from the digest's items, in order, grouped by topic."""
    digest = await conn.fetchrow(Q["get_digest"], mailing_id)
    if digest is None:
        raise NotFound(f"digest {mailing_id} does not exist")

    def view(row: asyncpg.Record) -> dict[str, Any]:
        return {
            "item_id": row["item_id"],
            "title": row["title"],
            "url": row["link"] or f"{settings.base_url}/archive/{digest['slug']}",
            "summary_html": row["summary_html"],
            "summary_text": row["summary_text"],
            "image_url": row["image_url"],
            "image_alt": row["image_alt"],
            "published": f"{row['published_at']:%d %B %Y}",
            "published_on": row["published_at"].date().isoformat(),  # per reader locale
            "author": row["author"],
        }

    # The editor's order is the readers' order: as ordered, one section without a heading;
    # by topic, each topic's section where its first item stands, its items in order.
    rows = await conn.fetch(Q["digest_items"], mailing_id)
    sections = arrange(rows, by_topic=digest["item_grouping"] != "order", view=view)
    intro = intro_html(digest["intro_md"])
    content = {
        "subject": digest["subject"],
        "preheader": " · ".join(s["topic"] for s in sections if s["topic"])[:150],
        "intro_html": intro,
        "intro_text": digest["intro_md"].strip() or "",
        "sections": sections,
        "archive_url": f"{settings.base_url}/archive/{digest['slug']}" if digest["slug"] else "",
        "item_count": item_count(sections),
        "texts": by_language.content_texts(digest["texts"], intro_html),
    }
    await conn.execute(Q["store_content"], mailing_id, content)
    return content


async def _lock_editable(conn: Connection, mailing_id: int) -> None:
    row = await conn.fetchrow(Q["lock_digest"], mailing_id)
    if row is None:
        raise NotFound(f"digest {mailing_id} does not exist")
    if row["status"] not in _EDITABLE:
        raise Conflict(f"digest {mailing_id} is {row['status']}: it can no longer be changed")


async def edit_digest(
    pool: asyncpg.Pool,
    settings: Settings,
    mailing_id: int,
    *,
    subject: str | None = None,
    intro_md: str | None = None,
    item_ids: list[int] | None = None,
    texts: dict[str, Any] | None = None,
    grouping: str | None = None,
) -> dict[str, Any]:
    """Subject, intro (Markdown), the items in order (add, remove, reorder) and how they are
    arranged (`topic` or `order`); only while the digest is a draft or scheduled."""
    problems = {}
    if grouping is not None and grouping not in GROUPINGS:
        problems["grouping"] = f"one of {', '.join(GROUPINGS)}"
    if subject is not None and not 1 <= len(subject.strip()) <= 200:
        problems["subject"] = "1 to 200 characters"
    if intro_md is not None and len(intro_md) > 20_000:
        problems["intro_md"] = "at most 20,000 characters"
    if item_ids is not None and len(item_ids) > MAX_ITEMS:
        problems["items"] = f"at most {MAX_ITEMS} items"
    per_language = by_language.check_texts(texts, problems)
    if problems:
        raise InvalidInput("invalid digest", problems)
    async with pool.acquire() as conn, conn.transaction():
        await _lock_editable(conn, mailing_id)
        if item_ids is not None:
            unique = list(dict.fromkeys(item_ids))
            found = {r["item_id"] for r in await conn.fetch(Q["existing_items"], unique)}
            missing = [i for i in unique if i not in found]
            if missing:
                raise InvalidInput("invalid digest", {"items": f"unknown items: {missing[:10]}"})
            await conn.execute(Q["clear_digest_items"], mailing_id)
            await conn.execute(Q["set_digest_items"], mailing_id, unique)
            await conn.execute(Q["assemble_translations"], mailing_id)
        await conn.execute(
            Q["update_digest_text"],
            mailing_id,
            subject.strip() if subject else None,
            intro_md,
            None if per_language is None else json.dumps(per_language),
            grouping,
        )
        return await refresh_content(conn, settings, mailing_id)


async def check_template(conn: Connection, settings: Settings, content: dict[str, Any]) -> None:
    """Compile the digest template in force with this content, as the workers will: a
    broken one (saved in the console, or in the data dir) stops the send here, with why."""
    saved = (await template_versions.in_force(conn)).sources
    try:
        render_parts(settings, content, saved=saved)
    except Conflict as problem:
        raise Conflict(f"{problem}; nothing was sent") from problem


async def _ready_content(conn: Connection, settings: Settings, mailing_id: int) -> dict[str, Any]:
    content = await refresh_content(conn, settings, mailing_id)
    if not content["item_count"]:
        raise Conflict("the digest has no items: add items before sending it")
    await check_template(conn, settings, content)
    return content


async def schedule(
    pool: asyncpg.Pool, settings: Settings, mailing_id: int, send_at: datetime, *, now: datetime
) -> None:
    if send_at.tzinfo is None:
        raise InvalidInput("invalid schedule", {"send_at": "needs a time zone (e.g. ...Z)"})
    if send_at < now - timedelta(seconds=5):
        raise InvalidInput("invalid schedule", {"send_at": "is in the past"})
    async with pool.acquire() as conn, conn.transaction():
        await _lock_editable(conn, mailing_id)
        await _ready_content(conn, settings, mailing_id)
        await conn.execute(Q["schedule_digest"], mailing_id, send_at)
        await record_event(
            conn, "digest.scheduled", "digest", mailing_id, {"send_at": send_at.isoformat()}
        )


async def start(pool: asyncpg.Pool, settings: Settings, mailing_id: int) -> int:
    """Start sending now: freeze the content, fan out to the series' subscribers, wake the
    workers. Guarded: of several instances, one wins (the others get Conflict)."""
    async with pool.acquire() as conn, conn.transaction():
        digest = await conn.fetchrow(Q["get_digest"], mailing_id)
        if digest is None:
            raise NotFound(f"digest {mailing_id} does not exist")
        if digest["series_id"] is None:
            raise Conflict("a digest needs a series to know its recipients")
        if await mailings.begin_sending(conn, mailing_id) is None:
            raise Conflict(f"digest {mailing_id} is {digest['status']}: it cannot be sent")
        await _ready_content(conn, settings, mailing_id)
        created = await mailings.fan_out(conn, _FAN_OUT, mailing_id, digest["series_id"])
        await record_event(conn, "digest.sending", "digest", mailing_id, {"recipients": created})
        await queue.wake_workers(conn)
    log.info("digest %d is sending to %d recipients", mailing_id, created)
    return created


async def count_recipients(pool: asyncpg.Pool, mailing_id: int) -> int:
    """How many people `start` would mail if it ran now (0 for a digest without series)."""
    digest = await pool.fetchrow(Q["get_digest"], mailing_id)
    if digest is None:
        raise NotFound(f"digest {mailing_id} does not exist")
    if digest["series_id"] is None:
        return 0
    count: int = await pool.fetchval(_COUNT, mailing_id, digest["series_id"])
    return count


async def send_due(pool: asyncpg.Pool, settings: Settings, *, now: datetime) -> list[int]:
    """Start every scheduled digest whose time has come (safe on several instances)."""
    started = []
    for row in await pool.fetch(Q["due_digests"], now):
        try:
            await start(pool, settings, row["mailing_id"])
            started.append(row["mailing_id"])
        except Conflict as exc:
            log.info("digest %d not started here: %s", row["mailing_id"], exc)
    return started


async def tick_series(pool: asyncpg.Pool, settings: Settings, *, now: datetime) -> list[int]:
    """Make the digest of every series whose time has come: once per occurrence, even with
    several instances, and once (not once per missed tick) after a restart that missed it.
    The digest is made (and, for an auto series, scheduled) before the series moves on, so a
    tick that fails between the steps (a database error) leaves the occurrence due, not lost:
    the next tick finds the digest by its unique key and finishes the job."""
    made = []
    for series in await pool.fetch(SQ["due_series"], now):
        series_id, occurrence = series["series_id"], series["next_run_at"]
        following = next_occurrence(series["cron"], series["timezone"], now)
        try:
            mailing_id = await create_digest(
                pool, settings, series_id, now=now, occurrence_at=occurrence
            )
        except NotFound:
            continue  # removed since we looked
        if mailing_id is not None:
            made.append(mailing_id)
        elif series["mode"] == "auto":  # made before; scheduling it may have failed
            draft = await pool.fetchrow(Q["unscheduled_occurrence"], series_id, occurrence)
            if draft is not None and draft["recent"]:
                continue  # the instance that made it is scheduling it and moves the series
            mailing_id = draft["mailing_id"] if draft is not None else None
        if mailing_id is not None and series["mode"] == "auto":
            await _schedule_auto(pool, settings, mailing_id, series["slug"], now=now)
        await pool.fetchval(SQ["advance_series"], series_id, occurrence, following)
    return made


async def _schedule_auto(
    pool: asyncpg.Pool, settings: Settings, mailing_id: int, slug: str, *, now: datetime
) -> None:
    """An auto series' digest goes out now, unless it cannot (empty, a broken template):
    then it stays a draft and `digest.blocked` says why."""
    try:
        await schedule(pool, settings, mailing_id, now, now=now)
    except (Conflict, InvalidInput) as exc:
        log.warning("digest %d of series %s not sent: %s", mailing_id, slug, exc)
        async with pool.acquire() as conn:
            await record_event(conn, "digest.blocked", "digest", mailing_id, {"reason": str(exc)})


async def test_send(
    pool: asyncpg.Pool, settings: Settings, mailing_id: int, addresses: list[str]
) -> list[int]:
    """Queue the digest (as it stands) to a few addresses; not counted as a send."""
    if not addresses or len(addresses) > 10:
        raise InvalidInput("invalid test send", {"addresses": "1 to 10 addresses"})
    clean = []
    for address in addresses:
        try:
            clean.append(normalise_email(str(address)))
        except EmailNotValidError as exc:
            raise InvalidInput("invalid test send", {"addresses": f"{address!r}: {exc}"}) from exc
    async with pool.acquire() as conn, conn.transaction():
        digest = await conn.fetchrow(Q["get_digest"], mailing_id)
        if digest is None:
            raise NotFound(f"digest {mailing_id} does not exist")
        content = await refresh_content(conn, settings, mailing_id)
        await check_template(conn, settings, content)
        return [
            await queue.enqueue_transactional(
                conn,
                kind="digest",
                recipient=address,
                subscriber_id=None,
                payload={"preview_of": mailing_id},
            )
            for address in clean
        ]


async def preview(
    pool: asyncpg.Pool,
    settings: Settings,
    mailing_id: int,
    *,
    subscriber: str | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """The digest as one subscriber would get it (their items, greeting and language), or
    as everyone's copy in `language` (English by default) when no subscriber is named."""
    async with pool.acquire() as conn, conn.transaction():
        digest = await conn.fetchrow(Q["get_digest"], mailing_id)
        if digest is None:
            raise NotFound(f"digest {mailing_id} does not exist")
        content = await refresh_content(conn, settings, mailing_id)
        person = None
        item_ids: frozenset[int] | None = None
        saved = (await template_versions.in_force(conn)).sources
        if subscriber:
            # An id past bigint is nobody's (and would be refused by the driver).
            by_id = whole_number(subscriber)
            person = await conn.fetchrow(Q["subscriber_for_preview"], by_id, subscriber.casefold())
            if person is None:
                raise NotFound("no such subscriber")
            chosen = await conn.fetchval(
                Q["items_for_subscriber"], mailing_id, person["subscriber_id"]
            )
            item_ids = frozenset(chosen)

    name = person["name"] if person is not None else None
    code = language_of(language or (person["locale"] if person is not None else None))
    content = by_language.for_language(content, code)
    html, text = render_parts(
        settings, content, item_ids=item_ids, name=name, language=code, saved=saved,
        topic_ids=frozenset(person["topic_ids"]) if person is not None else None,
    )  # fmt: skip
    return {
        "language": code,
        "subject": content["subject"],
        "html": html,
        "text": text,
        "items": len(item_ids) if item_ids is not None else content["item_count"],
    }


async def get_digest(pool: asyncpg.Pool, mailing_id: int) -> asyncpg.Record | None:
    return await pool.fetchrow(Q["get_digest"], mailing_id)


async def list_digests(pool: asyncpg.Pool, status: str | None) -> list[asyncpg.Record]:
    """Digests newest first, of one status or all."""
    return await pool.fetch(Q["list_digests"], status)
