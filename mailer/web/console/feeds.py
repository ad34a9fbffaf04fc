"""Feed sources (admin): list with the last poll's outcome, add, edit (the address too, for a
feed that moved), pause, resume, poll now, remove after a confirmation. Every change is a
call of mailer/content/feeds.py, as in the API."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from mailer.audience import topics
from mailer.content import feeds
from mailer.editorial import counts as console_admin
from mailer.errors import Conflict, InvalidInput
from mailer.fetch import make_session
from mailer.numbers import whole_number
from mailer.web import keys
from mailer.web.api import path_id
from mailer.web.console.form_input import FormInput, status_of
from mailer.web.console.page import render
from mailer.web.console.session import admin_only

MAX_RULES = 200
# The domain's names of fields that the form names otherwise.
_FIELD_NAMES = {"category_rules": "rules", "poll_interval": "interval"}


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/feeds", feeds_page)
    r.add_post("/feeds", create_feed)
    r.add_get("/feeds/{source_id}", feed_page)
    r.add_post("/feeds/{source_id}", save_feed)
    r.add_post("/feeds/{source_id}/pause", pause_feed)
    r.add_post("/feeds/{source_id}/resume", resume_feed)
    r.add_post("/feeds/{source_id}/poll", poll_feed)
    r.add_get("/feeds/{source_id}/remove", remove_page)
    r.add_post("/feeds/{source_id}/remove", remove_feed)


def parse_rules(text: str) -> tuple[dict[str, list[str]], str | None]:
    """ "Category = slug, slug" per line into a map; (map, None) or ({}, what is wrong)."""
    rules: dict[str, list[str]] = {}
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if len(lines) > MAX_RULES:
        return {}, f"At most {MAX_RULES} rules."
    for number, line in lines:
        category, equals, slugs = line.partition("=")
        chosen = [s.strip() for s in slugs.split(",") if s.strip()]
        if not equals or not category.strip() or not chosen:
            return {}, f"Line {number}: write it as Category = topic-slug, topic-slug."
        rules.setdefault(category.strip(), []).extend(chosen)
    return rules, None


def format_rules(rules: dict[str, list[str]]) -> str:
    return "\n".join(f"{category} = {', '.join(slugs)}" for category, slugs in rules.items())


def _values(row: asyncpg.Record) -> dict[str, Any]:
    interval = row["poll_interval"]
    return {
        "url": row["url"],
        "name": row["name"],
        "topics": list(row["default_topics"]),
        "rules": format_rules(row["category_rules"] or {}),
        "interval": str(max(1, round(interval / 60))),
    }


def _read(form: FormInput, slugs: list[str]) -> dict[str, Any]:
    fields = {
        "name": form.text("name", label="The name", max_length=200),
        "topics": form.many("topics", label="Topics", options=slugs),
        "poll_interval": 60
        * form.integer("interval", label="The interval", minimum=1, maximum=10_080, default=15),
    }
    rules, problem = parse_rules(form.text("rules", label="The rules", max_length=20_000))
    if problem:
        form.fail("rules", problem)
    fields["category_rules"] = rules
    return fields


async def _page_values(pool: asyncpg.Pool) -> dict[str, Any]:
    return {"topics": await topics.list_topics(pool)}


@admin_only
async def feeds_page(request: web.Request, *, form: FormInput | None = None) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    sources = await feeds.list_source_rows(pool)
    polled = request.query.get("polled", "")
    return render(
        request,
        "console/feeds.html",
        status=status_of(form),
        title="Feeds",
        sources=sources,
        counts=await console_admin.source_item_counts(pool, [s["source_id"] for s in sources]),
        polled=whole_number(polled),
        done=request.query.get("done", ""),
        form=form or FormInput.prefilled({"interval": "15", "topics": []}),
        **await _page_values(pool),
    )


@admin_only
async def create_feed(request: web.Request) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    form = await FormInput.read(request)
    url = form.text("url", label="The feed's address", required=True, max_length=2000)
    fields = _read(form, [t.slug for t in await topics.list_topics(pool)])
    if form.ok:
        try:
            source = await feeds.create_source(pool, url=url, **fields)
        except (InvalidInput, Conflict) as exc:
            form.refused(exc, field="url", names=_FIELD_NAMES)
        else:
            raise web.HTTPSeeOther(f"/console/feeds?done=added#source-{source['source_id']}")
    return await feeds_page(request, form=form)


@admin_only
async def feed_page(request: web.Request, *, form: FormInput | None = None) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    row = await console_admin.get_source(pool, path_id(request, "source_id"))
    counts = await console_admin.source_item_counts(pool, [row["source_id"]])
    return render(
        request,
        "console/feed.html",
        status=status_of(form),
        title=f"Feed: {row['name'] or row['url']}",
        source=row,
        count=counts.get(row["source_id"]),
        form=form or FormInput.prefilled(_values(row)),
        saved=request.query.get("saved") == "1",
        **await _page_values(pool),
    )


@admin_only
async def save_feed(request: web.Request) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    row = await console_admin.get_source(pool, path_id(request, "source_id"))
    form = await FormInput.read(request)
    url = form.text("url", label="The feed's address", required=True, max_length=2000)
    fields = _read(form, [t.slug for t in await topics.list_topics(pool)])
    if form.ok:
        try:
            await feeds.update_source(pool, row["source_id"], url=url, **fields)
        except Conflict as exc:
            form.refused(exc, field="url", names=_FIELD_NAMES)
        except InvalidInput as exc:
            form.refused(exc, field="name", names=_FIELD_NAMES)
        else:
            raise web.HTTPSeeOther(f"/console/feeds/{row['source_id']}?saved=1")
    return await feed_page(request, form=form)


async def _set_paused(request: web.Request, paused: bool) -> web.StreamResponse:
    source_id = path_id(request, "source_id")
    await feeds.update_source(request.app[keys.pool_key], source_id, paused=paused)
    done = "paused" if paused else "resumed"
    raise web.HTTPSeeOther(f"/console/feeds?done={done}#source-{source_id}")


@admin_only
async def pause_feed(request: web.Request) -> web.StreamResponse:
    return await _set_paused(request, True)


@admin_only
async def resume_feed(request: web.Request) -> web.StreamResponse:
    return await _set_paused(request, False)


@admin_only
async def poll_feed(request: web.Request) -> web.StreamResponse:
    """Poll at once (as the API's poll does); the list then shows the outcome it recorded."""
    source_id = path_id(request, "source_id")
    settings = request.app[keys.settings_key]
    async with make_session(allow_private=settings.feed_allow_private) as session:
        await feeds.poll_now(
            request.app[keys.pool_key],
            session,
            source_id,
            allow_private=settings.feed_allow_private,
            trusted=settings.feed_trusted_urls,
        )
    raise web.HTTPSeeOther(f"/console/feeds?polled={source_id}#source-{source_id}")


@admin_only
async def remove_page(request: web.Request) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    row = await console_admin.get_source(pool, path_id(request, "source_id"))
    counts = await console_admin.source_item_counts(pool, [row["source_id"]])
    return render(
        request,
        "console/feed_remove.html",
        title=f"Remove {row['name'] or row['url']}?",
        source=row,
        count=counts.get(row["source_id"]),
    )


@admin_only
async def remove_feed(request: web.Request) -> web.StreamResponse:
    await feeds.delete_source(request.app[keys.pool_key], path_id(request, "source_id"))
    raise web.HTTPSeeOther("/console/feeds?done=removed")
