"""A digest's actions in the console: preview as a subscriber, test send, schedule, send now,
cancel (the composer is digests.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from mailer.accounts import editors
from mailer.delivery import mailings
from mailer.editorial import digests
from mailer.errors import Conflict, InvalidInput, NotFound
from mailer.i18n import language_choices, languages
from mailer.web import keys
from mailer.web.api import path_id
from mailer.web.console import schedule_form
from mailer.web.console.digests import composer_page
from mailer.web.console.page import render
from mailer.web.console.session import current
from mailer.web.middleware import MAIL_PREVIEW_CSP


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/digests/{mailing_id}/preview", preview_page)
    r.add_get("/digests/{mailing_id}/preview.html", preview_html)
    r.add_post("/digests/{mailing_id}/test-send", test_send)
    r.add_post("/digests/{mailing_id}/schedule", schedule)
    r.add_post("/digests/{mailing_id}/send-now", send_now)
    r.add_post("/digests/{mailing_id}/cancel", cancel)
    r.add_post("/digests/{mailing_id}/restore", restore)


def _language(request: web.Request) -> str | None:
    """The reader language to preview in (empty: the subscriber's, else English)."""
    asked = request.query.get("language", "")
    return asked if asked in languages() else None


def _subscriber(request: web.Request) -> str | None:
    return (request.query.get("subscriber") or "").strip()[:320] or None


async def preview_page(request: web.Request) -> web.StreamResponse:
    """The digest as one subscriber gets it (their items, their greeting), or everyone's."""
    mailing_id = path_id(request, "mailing_id")
    subscriber = _subscriber(request)
    status, problem, shown = 200, "", None
    try:
        shown = await digests.preview(
            request.app[keys.pool_key],
            request.app[keys.settings_key],
            mailing_id,
            subscriber=subscriber,
            language=_language(request),
        )
    except NotFound as exc:
        if subscriber is None:
            raise
        status, problem = 404, f"No subscriber {subscriber!r}: {exc}"
    return render(
        request,
        "console/preview.html",
        status=status,
        title="Preview",
        mailing_id=mailing_id,
        subscriber=subscriber or "",
        language=_language(request) or "",
        language_choices=language_choices(),
        problem=problem,
        shown=shown,
    )


async def preview_html(request: web.Request) -> web.StreamResponse:
    """The mail's HTML for the preview's sandboxed frame: no script, no same-origin access."""
    shown = await digests.preview(
        request.app[keys.pool_key],
        request.app[keys.settings_key],
        path_id(request, "mailing_id"),
        subscriber=_subscriber(request),
        language=_language(request),
    )
    response = web.Response(text=shown["html"], content_type="text/html")
    response.headers["Content-Security-Policy"] = MAIL_PREVIEW_CSP
    return response


async def test_send(request: web.Request) -> web.StreamResponse:
    mailing_id = path_id(request, "mailing_id")
    form = await request.post()
    addresses = [a for a in re.split(r"[\s,;]+", str(form.get("addresses", ""))) if a]
    try:
        await digests.test_send(
            request.app[keys.pool_key], request.app[keys.settings_key], mailing_id, addresses
        )
    except (InvalidInput, Conflict) as exc:
        return await _refused(request, exc, "test_send", form)
    raise web.HTTPSeeOther(f"/console/digests/{mailing_id}?tested={len(addresses)}")


async def schedule(request: web.Request) -> web.StreamResponse:
    mailing_id = path_id(request, "mailing_id")
    form = await request.post()
    zone = str(form.get("timezone", "")).strip() or schedule_form.editor_zone(request)
    pool = request.app[keys.pool_key]
    try:
        send_at = schedule_form.parse_local(str(form.get("send_at", "")), zone)
        await digests.schedule(
            pool, request.app[keys.settings_key], mailing_id, send_at, now=schedule_form.now()
        )
    except (InvalidInput, Conflict) as exc:
        return await _refused(request, exc, "send_at", form)
    editor = current(request).editor
    if editor.timezone != zone:  # remembered for the next schedule
        await editors.set_timezone(pool, editor.editor_id, zone)
    raise web.HTTPSeeOther(f"/console/digests/{mailing_id}?scheduled=1")


async def send_now(request: web.Request) -> web.StreamResponse:
    mailing_id = path_id(request, "mailing_id")
    try:
        await digests.start(request.app[keys.pool_key], request.app[keys.settings_key], mailing_id)
    except (InvalidInput, Conflict) as exc:
        return await _refused(request, exc, "send_now")
    raise web.HTTPSeeOther(f"/console/mailings/{mailing_id}")


async def cancel(request: web.Request) -> web.StreamResponse:
    mailing_id = path_id(request, "mailing_id")
    await mailings.cancel(request.app[keys.pool_key], mailing_id)
    raise web.HTTPSeeOther(f"/console/digests/{mailing_id}?cancelled=1")


async def restore(request: web.Request) -> web.StreamResponse:
    """Undo a cancel (only while nothing was sent): the digest is a draft again."""
    mailing_id = path_id(request, "mailing_id")
    try:
        await mailings.restore_draft(request.app[keys.pool_key], mailing_id)
    except Conflict as exc:
        return await _refused(request, exc, "restore")
    raise web.HTTPSeeOther(f"/console/digests/{mailing_id}?restored=1")


async def _refused(
    request: web.Request,
    exc: InvalidInput | Conflict,
    field: str,
    form: Mapping[str, Any] | None = None,
) -> web.StreamResponse:
    """The composer again, with the reason beside the action that was refused and what the
    editor had typed in its form."""
    fields = dict(exc.fields) if isinstance(exc, InvalidInput) else {}
    if not fields:
        fields = {field: str(exc)}
    status = 409 if isinstance(exc, Conflict) else 400
    typed = {
        name: str(form.get(name, ""))[:2000]
        for name in ("send_at", "timezone", "addresses")
        if form is not None and name in form
    }
    return await composer_page(request, status=status, errors=fields, typed=typed)
