"""An admin changes a subscriber's topics, digests and alert choice on their request (by
phone, by letter): the same function as the preference page, recorded in the consent
ledger as made by this editor."""

from __future__ import annotations

from aiohttp import web

from mailer.audience import preferences, topics
from mailer.audience.consent import Context
from mailer.errors import Conflict, InvalidInput, NotFound
from mailer.numbers import whole_number
from mailer.web import keys
from mailer.web.api import path_id
from mailer.web.console.page import render
from mailer.web.console.session import admin_only, current


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/subscribers/{subscriber_id}/choices", choices_page)
    r.add_post("/subscribers/{subscriber_id}/choices", save_choices)


async def _subscriber(request: web.Request) -> preferences.Subscriber:
    found = await preferences.load_subscriber(
        request.app[keys.pool_key], path_id(request, "subscriber_id")
    )
    if found is None:
        raise NotFound("No such subscriber.")
    return found


@admin_only
async def choices_page(
    request: web.Request,
    *,
    subscriber: preferences.Subscriber | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    shown = subscriber or await _subscriber(request)
    return render(
        request,
        "console/subscriber_choices.html",
        status=status,
        title=f"Topics and digests of {shown.email}",
        s=shown,
        topics=await topics.list_topics(pool, public_only=True),
        series=await preferences.active_series(pool),
        errors=errors or {},
    )


@admin_only
async def save_choices(request: web.Request) -> web.StreamResponse:
    subscriber = await _subscriber(request)
    form = await request.post()
    slugs = tuple(str(v)[:200] for v in form.getall("topics", []))[:100]
    picked = [whole_number(str(v)) for v in form.getall("series", [])][:50]
    choice = preferences.PreferenceChoice(
        name=subscriber.name,
        topics=slugs,
        plain_text_only=subscriber.plain_text_only,
        pause_months=None,
        series=tuple(n for n in picked if n is not None),
        alerts=form.get("alerts") == "on",
    )
    editor = current(request).editor.email
    context = Context(source=f"console: editor {editor}, on the subscriber's request")
    try:
        changes = await preferences.save_preferences(
            request.app[keys.pool_key], subscriber, choice, context
        )
    except (InvalidInput, Conflict) as exc:
        fields = dict(exc.fields) if isinstance(exc, InvalidInput) else {"form": str(exc)}
        status = 409 if isinstance(exc, Conflict) else 400
        return await choices_page(request, errors=fields or {"form": str(exc)}, status=status)
    done = "choices" if changes else "choices-unchanged"
    raise web.HTTPSeeOther(f"/console/subscribers/{subscriber.subscriber_id}?done={done}")
