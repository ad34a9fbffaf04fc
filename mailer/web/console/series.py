"""Digest series (admin): list with the next runs in words, add, edit (name, schedule, time
zone, auto-send, default, active), remove after a confirmation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import asyncpg
from aiohttp import web

from mailer.audience.topics import slug_for
from mailer.editorial import counts as console_admin
from mailer.editorial import series
from mailer.errors import Conflict, InvalidInput
from mailer.web import keys
from mailer.web.api import path_id
from mailer.web.console import schedule_form
from mailer.web.console.form_input import FormInput, status_of
from mailer.web.console.page import render
from mailer.web.console.session import admin_only

UPCOMING = 3  # runs shown ahead on a series' page


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/series", series_page)
    r.add_post("/series", create_series)
    r.add_get("/series/{series_id}", one_series_page)
    r.add_post("/series/{series_id}", save_series)
    r.add_get("/series/{series_id}/remove", remove_page)
    r.add_post("/series/{series_id}/remove", remove_series)


def upcoming_runs(cron: str, timezone: str, now: datetime, count: int) -> list[datetime]:
    """The next `count` runs as the scheduler will compute them ([] for a bad schedule)."""
    runs: list[datetime] = []
    after = now
    try:
        while len(runs) < count:
            run = series.next_occurrence(cron, timezone, after)
            if run is None:
                break
            runs.append(run)
            after = run
    except InvalidInput:
        return []
    return runs


def _values(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "name": row["name"],
        "description": row["description"],
        "cron": row["cron"],
        "timezone": row["timezone"],
        "auto": row["mode"] == "auto",
        "is_default": row["is_default"],
        "active": row["active"],
    }


def _read(form: FormInput) -> dict[str, Any]:
    return {
        "name": form.text("name", label="The name", required=True, max_length=100),
        "description": form.text("description", label="The description", max_length=1000),
        "cron": form.text("cron", label="The schedule", required=True, max_length=100),
        "timezone": form.text("timezone", label="The time zone", required=True, max_length=64),
        "mode": "auto" if form.checkbox("auto") else "draft",
        "is_default": form.checkbox("is_default"),
    }


def _page_values(request: web.Request) -> dict[str, Any]:
    return {"zones": schedule_form.zones(), "zone": schedule_form.editor_zone(request)}


@admin_only
async def series_page(request: web.Request, *, form: FormInput | None = None) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    rows = await series.list_series_rows(pool)
    return render(
        request,
        "console/series.html",
        status=status_of(form),
        title="Series",
        series=rows,
        counts=await console_admin.series_counts(pool),
        now=datetime.now(UTC),
        form=form or FormInput.prefilled({"timezone": schedule_form.editor_zone(request)}),
        added=request.query.get("added") == "1",
        removed=request.query.get("removed", "")[:100],
        **_page_values(request),
    )


@admin_only
async def create_series(request: web.Request) -> web.StreamResponse:
    form = await FormInput.read(request)
    fields = _read(form)
    if form.ok:
        try:
            created = await series.create_series(
                request.app[keys.pool_key], now=datetime.now(UTC), **fields
            )
        except Conflict:
            form.conflict("name", f"A series with the short name '{slug_for(fields['name'])}' "
                                  "exists already: choose another name.")  # fmt: skip
        except InvalidInput as exc:
            form.refused(exc, field="name")
        else:
            raise web.HTTPSeeOther(f"/console/series/{created['series_id']}?added=1")
    return await series_page(request, form=form)


@admin_only
async def one_series_page(
    request: web.Request, *, form: FormInput | None = None
) -> web.StreamResponse:
    row = await series.get_series(request.app[keys.pool_key], path_id(request, "series_id"))
    now = datetime.now(UTC)
    return render(
        request,
        "console/one_series.html",
        status=status_of(form),
        title=f"Series: {row['name']}",
        row=row,
        upcoming=upcoming_runs(row["cron"], row["timezone"], now, UPCOMING)
        if row["active"]
        else [],
        now=now,
        form=form or FormInput.prefilled(_values(row)),
        saved=request.query.get("saved") == "1",
        added=request.query.get("added") == "1",
        **_page_values(request),
    )


@admin_only
async def save_series(request: web.Request) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    current = await series.get_series(pool, path_id(request, "series_id"))
    form = await FormInput.read(request)
    fields = _read(form)
    active = form.checkbox("active")
    if form.ok:
        # The next run is recomputed only when the schedule changed or the series comes back
        # (a save of the name alone must not move a run that is due; a series switched on
        # again must not make up for the runs it missed while off).
        cron: str | None = fields.pop("cron")
        timezone: str | None = fields.pop("timezone")
        unchanged = cron == current["cron"] and timezone == current["timezone"]
        if unchanged and not (active and not current["active"]):
            cron = timezone = None
        try:
            await series.update_series(
                pool,
                current["series_id"],
                now=datetime.now(UTC),
                cron=cron,
                timezone=timezone,
                active=active,
                **fields,
            )
        except (InvalidInput, Conflict) as exc:
            form.refused(exc, field="cron")
        else:
            raise web.HTTPSeeOther(f"/console/series/{current['series_id']}?saved=1")
    return await one_series_page(request, form=form)


@admin_only
async def remove_page(
    request: web.Request, *, status: int = 200, problem: str = ""
) -> web.StreamResponse:
    """What removing touches (subscribers' choice, sent digests); the digests in the way."""
    pool = request.app[keys.pool_key]
    row = await series.get_series(pool, path_id(request, "series_id"))
    return render(
        request,
        "console/series_remove.html",
        status=status,
        title=f"Remove {row['name']}?",
        row=row,
        usage=await series.series_usage(pool, row["series_id"]),
        problem=problem,
    )


@admin_only
async def remove_series(request: web.Request) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    row = await series.get_series(pool, path_id(request, "series_id"))
    try:
        await series.delete_series(pool, row["series_id"])
    except Conflict as exc:  # a digest was drafted or scheduled since the page was shown
        return await remove_page(request, status=409, problem=str(exc))
    raise web.HTTPSeeOther(f"/console/series?removed={quote(row['name'])}")
