"""Subscribers: editors search and view; admins handle data requests (export, erase) and
unsubscribe on request, with the same functions as the preference page and the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from mailer.audience import lookup as subscriber_views
from mailer.audience import preferences, topics
from mailer.audience.consent import Context
from mailer.errors import InvalidInput
from mailer.models import SubscriberStatus
from mailer.numbers import whole_number
from mailer.web import keys
from mailer.web.api import path_id
from mailer.web.console.form_input import FormInput, status_of
from mailer.web.console.page import render
from mailer.web.console.session import admin_only, current
from mailer.web.preferences import data_file

PAGE_SIZE = 50
# Erased people have no row left to find.
STATUSES = [s.value for s in SubscriberStatus if s is not SubscriberStatus.ERASED]


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/subscribers", search_page)
    r.add_get("/subscribers/{subscriber_id}", subscriber_page)
    r.add_get("/subscribers/{subscriber_id}/export", export_subscriber)
    r.add_get("/subscribers/{subscriber_id}/erase", erase_page)
    r.add_post("/subscribers/{subscriber_id}/erase", erase_subscriber)
    r.add_post("/subscribers/{subscriber_id}/unsubscribe", unsubscribe_subscriber)


def _zone(request: web.Request) -> str:
    return current(request).editor.timezone or "UTC"


async def search_page(request: web.Request) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    all_topics = await topics.list_topics(pool)
    form = FormInput(request.query)
    fragment = form.text("q", label="The address", max_length=320)
    status = form.choice("status", label="Status", options=["", *STATUSES])
    slug = form.choice("topic", label="Topic", options=["", *(t.slug for t in all_topics)])
    since = form.since("since", label="Signed up since", zone=_zone(request))
    before_text = request.query.get("before", "")
    before = whole_number(before_text)
    if before_text and before is None:
        form.fail("before", "Use the page links as given.")
    found: list[Any] = []
    if form.ok:
        topic_id = next((t.topic_id for t in all_topics if t.slug == slug), None)
        try:
            found = await subscriber_views.search_subscribers(
                pool, fragment=fragment or None, status=status or None, topic_id=topic_id,
                before=before, limit=PAGE_SIZE + 1, since=since,
            )  # fmt: skip
        except InvalidInput as exc:
            form.refused(exc, field="q")
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    next_query = None
    if more:
        next_query = {
            **{k: v for k, v in form.values.items() if v},
            "before": found[-1]["subscriber_id"],
        }
    return render(
        request,
        "console/subscribers.html",
        status=400 if form.errors else 200,
        title="Subscribers",
        subscribers=found,
        form=form,
        statuses=STATUSES,
        topics=all_topics,
        searched=any(form.values.values()),
        first_query={k: v for k, v in form.values.items() if v} if before else None,
        next_query=next_query,
        erased=request.query.get("erased") == "1",
        now=datetime.now(UTC),
        zone=_zone(request),
    )


async def subscriber_page(request: web.Request) -> web.StreamResponse:
    subscriber_id = path_id(request, "subscriber_id")
    record = await subscriber_views.subscriber_record(request.app[keys.pool_key], subscriber_id)
    done = request.query.get("done", "")
    return render(
        request,
        "console/subscriber.html",
        title=record.profile["email"],
        s=record.profile,
        record=record,
        zone=_zone(request),
        now=datetime.now(UTC),
        ledger_limit=subscriber_views.LEDGER_LIMIT,
        delivery_limit=subscriber_views.DELIVERY_LIMIT,
        done=done if done in ("unsubscribed", "unchanged", "choices", "choices-unchanged") else "",
    )


@admin_only
async def export_subscriber(request: web.Request) -> web.StreamResponse:
    """The data-subject access request: the same file the person downloads themselves."""
    subscriber_id = path_id(request, "subscriber_id")
    data = await preferences.export_data(request.app[keys.pool_key], subscriber_id)
    return data_file(data, f"subscriber-{subscriber_id}-data.json")


def _requested_by(request: web.Request) -> str:
    return f"editor {current(request).editor.email} (console)"


@admin_only
async def erase_page(request: web.Request, *, form: FormInput | None = None) -> web.StreamResponse:
    subscriber_id = path_id(request, "subscriber_id")
    email = await subscriber_views.subscriber_address(request.app[keys.pool_key], subscriber_id)
    return render(
        request,
        "console/subscriber_erase.html",
        status=status_of(form),
        title=f"Erase {email}?",
        subscriber_id=subscriber_id,
        email=email,
        form=form or FormInput.prefilled({}),
    )


@admin_only
async def erase_subscriber(request: web.Request) -> web.StreamResponse:
    """Erase after the admin typed the address again (a wrong page or a slip of the mouse
    must not forget someone)."""
    pool = request.app[keys.pool_key]
    subscriber_id = path_id(request, "subscriber_id")
    email = await subscriber_views.subscriber_address(pool, subscriber_id)
    form = await FormInput.read(request)
    typed = form.text("confirm_email", label="The address", required=True, max_length=320)
    if typed and typed.casefold() != email.casefold():
        form.fail("confirm_email", f"This is not the subscriber's address; type {email}.")
    if not form.ok:
        return await erase_page(request, form=form)
    await preferences.erase(pool, subscriber_id, requested_by=_requested_by(request))
    raise web.HTTPSeeOther("/console/subscribers?erased=1")


@admin_only
async def unsubscribe_subscriber(request: web.Request) -> web.StreamResponse:
    """Unsubscribe on the person's request (by phone, by letter): recorded in the consent
    ledger as made by this editor."""
    pool = request.app[keys.pool_key]
    subscriber_id = path_id(request, "subscriber_id")
    await subscriber_views.subscriber_address(pool, subscriber_id)  # 404 for nobody
    # The editor's IP and browser are not the subscriber's: the ledger names the editor.
    context = Context(source=_requested_by(request))
    changed = await preferences.unsubscribe(pool, subscriber_id, context)
    done = "unsubscribed" if changed else "unchanged"
    raise web.HTTPSeeOther(f"/console/subscribers/{subscriber_id}?done={done}")
