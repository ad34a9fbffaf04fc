"""Digest series: the kinds of digest offered, each on a recurring local-time schedule."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from apscheduler.triggers.cron import CronTrigger

from mailer.audience.topics import SLUG, slug_for
from mailer.db import load_queries, record_json
from mailer.editorial.counts import audience_counts
from mailer.errors import Conflict, InvalidInput, NotFound
from mailer.numbers import whole_number

Q = load_queries("editorial/series")
log = logging.getLogger(__name__)


def trigger(cron: str, timezone: str) -> CronTrigger:
    """The schedule as APScheduler computes it (daylight-saving changes included)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            "invalid series", {"timezone": f"unknown time zone {timezone!r}"}
        ) from exc
    try:
        fields = cron.split()
        if len(fields) == 5:
            fields[4] = cron_weekdays(fields[4])
        return CronTrigger.from_crontab(" ".join(fields), timezone=zone)
    except ValueError as exc:
        raise InvalidInput(
            "invalid series",
            {"cron": f"five fields: minute hour day month weekday, e.g. '0 9 * * tue' ({exc})"},
        ) from exc


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def cron_weekdays(field: str) -> str:
    """The weekday field as standard cron reads it (0 and 7 are Sunday, 1 is Monday),
    spelled as names: APScheduler 3 reads the numbers with 0 as Monday, so `0 9 * * 1`
    would otherwise run on Tuesdays."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.lower().split(","):
        span, _, step_text = part.partition("/")
        step = whole_number(step_text, max_digits=2) or None
        if step_text and step is None:
            raise ValueError(f"bad step in weekday field {field!r}")
        if span == "*":
            low, high = 0, 6
        elif "-" in span:
            first, last = span.split("-", 1)
            low, high = _weekday(first), _weekday(last)
            if high < low and high == 0:  # "fri-sun": Sunday closes the week
                high = 7
        else:
            low = _weekday(span)
            high = 6 if step else low
        if high < low:
            raise ValueError(f"weekday range {span!r} runs backwards")
        days.update(day % 7 for day in range(low, high + 1, step or 1))
    return ",".join(_WEEKDAYS[day] for day in sorted(days))


def _weekday(text: str) -> int:
    number = whole_number(text, max_digits=1)
    if number is not None and number <= 7:
        return number
    if text in _WEEKDAYS:
        return _WEEKDAYS.index(text)
    raise ValueError(f"unknown weekday {text!r}")


def next_occurrence(cron: str, timezone: str, after: datetime) -> datetime | None:
    """The first scheduled time strictly after `after`. A local time that happens twice
    (the night clocks go back: "01:30 America/New_York" on the first Sunday of November)
    is one occurrence, the first: APScheduler would fire at both, and send two digests.
    A local time that never happens (clocks go forward) is sent when the clock jumps."""
    schedule = trigger(cron, timezone)
    fire: datetime | None = schedule.get_next_fire_time(None, after)
    if fire is not None and fire <= after:
        fire = schedule.get_next_fire_time(fire, after.replace(microsecond=0))
    while fire is not None and _repeated_local_time(fire):
        # Probe in UTC: APScheduler adds to the wall time and would return the repeat again.
        fire = schedule.get_next_fire_time(None, fire.astimezone(UTC) + timedelta(minutes=1))
    # Through UTC and back: a time in the gap ("02:30" the night clocks go forward) becomes
    # the real local time it is sent at (03:30).
    return fire.astimezone(UTC).astimezone(fire.tzinfo) if fire is not None else None


def _repeated_local_time(moment: datetime) -> bool:
    """Whether this instant is the second time its wall-clock reading happens that night."""
    first = moment.replace(fold=0)
    return first.utcoffset() != moment.utcoffset() and first.astimezone(UTC) < moment.astimezone(
        UTC
    )


async def create_series(
    pool: asyncpg.Pool,
    *,
    name: str,
    cron: str,
    timezone: str,
    now: datetime,
    slug: str | None = None,
    description: str = "",
    mode: str = "draft",
    is_default: bool = False,
) -> dict[str, Any]:
    slug = slug or slug_for(name)
    problems = {}
    if not SLUG.match(slug):
        problems["slug"] = "lower-case letters, digits and dashes"
    if not 1 <= len(name.strip()) <= 100:
        problems["name"] = "1 to 100 characters"
    if mode not in ("draft", "auto"):
        problems["mode"] = "draft (editors review) or auto (sent without a human)"
    if problems:
        raise InvalidInput("invalid series", problems)
    first = next_occurrence(cron, timezone, now)
    try:
        row = await pool.fetchrow(
            Q["create_series"],
            slug,
            name.strip(),
            description,
            cron,
            timezone,
            mode,
            is_default,
            first,
        )
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"a series with the slug {slug!r} exists already") from exc
    assert row is not None
    return record_json(row)


async def list_series(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    return [record_json(r) for r in await pool.fetch(Q["list_series"])]


async def get_series(pool: asyncpg.Pool, series_id: int) -> asyncpg.Record:
    row = await pool.fetchrow(Q["get_series"], series_id)
    if row is None:
        raise NotFound(f"series {series_id} does not exist")
    return row


async def update_series(
    pool: asyncpg.Pool,
    series_id: int,
    *,
    now: datetime,
    name: str | None = None,
    description: str | None = None,
    cron: str | None = None,
    timezone: str | None = None,
    mode: str | None = None,
    is_default: bool | None = None,
    active: bool | None = None,
) -> dict[str, Any]:
    current = await get_series(pool, series_id)
    problems = {}
    if mode is not None and mode not in ("draft", "auto"):
        problems["mode"] = "draft or auto"
    if name is not None:
        name = name.strip()
        if not 1 <= len(name) <= 100:
            problems["name"] = "1 to 100 characters"
    if problems:
        raise InvalidInput("invalid series", problems)
    next_run = None
    if cron is not None or timezone is not None:
        next_run = next_occurrence(cron or current["cron"], timezone or current["timezone"], now)
    row = await pool.fetchrow(
        Q["update_series"], series_id, name, description, cron, timezone, mode, is_default,
        active, next_run,
    )  # fmt: skip
    assert row is not None
    return record_json(row)


async def series_usage(pool: asyncpg.Pool, series_id: int) -> dict[str, Any]:
    """What removing the series touches: subscribers who chose it, sent digests, and the
    unfinished digests that stop it."""
    async with pool.acquire() as conn:
        usage = await conn.fetchrow(Q["series_usage"], series_id)
        unfinished = await conn.fetch(Q["unfinished_digests"], series_id)
    assert usage is not None
    kept = await audience_counts(pool)  # at most COUNTS_MAX_AGE seconds old
    subscribers = kept.get(("series", series_id), (0, 0))[0]
    return {"subscribers": subscribers, **dict(usage), "unfinished": [dict(r) for r in unfinished]}


async def delete_series(pool: asyncpg.Pool, series_id: int) -> None:
    """Remove a series, in one transaction: refused (Conflict) while it has a digest that is
    a draft, scheduled, sending or paused, since those need its subscribers. Subscribers'
    choice of it goes; sent digests stay (in the archive, without a series)."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchrow(Q["lock_series"], series_id) is None:
            raise NotFound(f"series {series_id} does not exist")
        unfinished = await conn.fetch(Q["unfinished_digests"], series_id)
        if unfinished:
            listed = ", ".join(f"{r['mailing_id']} ({r['status']})" for r in unfinished[:5])
            raise Conflict(
                f"the series still has {len(unfinished)} unfinished "
                f"digest{'' if len(unfinished) == 1 else 's'} ({listed}): "
                "send or cancel them first"
            )
        await conn.execute(Q["delete_series"], series_id)


async def list_series_rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """Every series as stored (the console formats them itself)."""
    return await pool.fetch(Q["list_series"])
