"""Items: the feed's stories, filtered; hide, unhide and edit one before it goes out."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mailer.audience import topics
from mailer.content import feeds, items
from mailer.editorial.overview import item_detail
from mailer.errors import InvalidInput
from mailer.numbers import whole_number
from mailer.web import keys
from mailer.web.api import path_id
from mailer.web.console.form_input import FormInput
from mailer.web.console.page import render
from mailer.web.console.session import current

PAGE_SIZE = 50


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/items", items_page)
    r.add_get("/items/{item_id}", item_page)
    r.add_post("/items/{item_id}", item_save)
    r.add_post("/items/{item_id}/hide", hide_item)
    r.add_post("/items/{item_id}/unhide", unhide_item)


def _int(text: str | None) -> int | None:
    return whole_number(text) if text else None


async def items_page(request: web.Request) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    all_topics = await topics.list_topics(pool)
    sources = await feeds.list_sources(pool)
    query = request.query
    topic = next((t for t in all_topics if t.slug == query.get("topic")), None)
    after = items.parse_items_cursor(query["cursor"]) if query.get("cursor") else None
    # A bad date is said (400), the other filters kept as they were; never ignored.
    dates = FormInput(query)
    zone = current(request).editor.timezone or "UTC"
    since = dates.since("since", label="Published since", zone=zone)
    filters: dict[str, Any] = {
        "topic": topic.slug if topic else "",
        "source": _int(query.get("source")) or "",
        "unsent": query.get("unsent") == "1",
        "hidden": query.get("hidden") == "1",
        "q": query.get("q", "")[:200],
        "since": dates.values["since"][:40],
    }
    found = []
    if dates.ok:
        found = await items.list_items(
            pool,
            topic_id=topic.topic_id if topic else None,
            source_id=_int(query.get("source")),
            since=since,
            unsent=filters["unsent"],
            search=filters["q"] or None,
            include_hidden=filters["hidden"],
            after=after,
            limit=PAGE_SIZE,
        )
    next_query = None
    if len(found) == PAGE_SIZE:
        next_query = {**{k: v for k, v in query.items() if k != "cursor"}}
        next_query["cursor"] = items.items_cursor(found[-1])
    return render(
        request,
        "console/items.html",
        status=400 if dates.errors else 200,
        title="Items",
        errors=dates.errors,
        items=found,
        topics=all_topics,
        topic_names={t.slug: t.name for t in all_topics},
        sources=sources,
        source_names={s["source_id"]: s["name"] or s["url"] for s in sources},
        filters=filters,
        next_query=next_query,
        back=request.path_qs,
        saved=query.get("saved") == "1",
    )


def _back(form: Any) -> str:
    back = str(form.get("back", ""))
    # Only back to the items list (with its filters), never elsewhere.
    return back if back.startswith("/console/items") and "//" not in back else "/console/items"


async def hide_item(request: web.Request) -> web.StreamResponse:
    return await _set_hidden(request, True)


async def unhide_item(request: web.Request) -> web.StreamResponse:
    return await _set_hidden(request, False)


async def _set_hidden(request: web.Request, hidden: bool) -> web.StreamResponse:
    item_id = path_id(request, "item_id")
    await items.edit_item(request.app[keys.pool_key], item_id, hidden=hidden)
    raise web.HTTPSeeOther(_back(await request.post()))


async def item_page(request: web.Request) -> web.StreamResponse:
    return await _item_form(request, path_id(request, "item_id"))


async def _item_form(
    request: web.Request,
    item_id: int,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> web.Response:
    pool = request.app[keys.pool_key]
    item = await item_detail(pool, item_id)
    return render(
        request,
        "console/item.html",
        status=status,
        title=f"Edit item {item_id}",
        item={**item, **(values or {})},
        topics=await topics.list_topics(pool),
        errors=errors or {},
        saved=request.query.get("saved") == "1",
    )


async def item_save(request: web.Request) -> web.StreamResponse:
    item_id = path_id(request, "item_id")
    form = await request.post()
    title = str(form.get("title", ""))
    summary = str(form.get("summary_html", ""))
    chosen = [str(v) for v in form.getall("topics", [])]
    try:
        await items.edit_item(
            request.app[keys.pool_key], item_id, title=title, summary_html=summary, topics=chosen
        )
    except InvalidInput as exc:
        values = {"title": title, "summary_html": summary, "topics": chosen}
        return await _item_form(request, item_id, status=400, errors=exc.fields, values=values)
    raise web.HTTPSeeOther(f"/console/items/{item_id}?saved=1")
