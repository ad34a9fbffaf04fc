"""Alerts and corrections in the console: draft, see who it goes to, confirm the count,
send (or cancel). The count the editor confirms is the one they were shown, as in the API."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mailer.delivery import mailings
from mailer.editorial import alerts, corrections
from mailer.editorial.notices import AudienceChanged, preview
from mailer.errors import Conflict, InvalidInput
from mailer.numbers import people, whole_number
from mailer.web import keys
from mailer.web.api import path_id
from mailer.web.console.form_input import FormInput, status_of
from mailer.web.console.page import render
from mailer.web.console.session import current

STATUSES = ("draft", "sending", "paused", "sent", "cancelled")


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/alerts", alerts_page)
    r.add_post("/alerts", create_alert)
    r.add_get("/alerts/{alert_id}", alert_page)
    r.add_post("/alerts/{alert_id}/send", send_alert)
    r.add_post("/alerts/{alert_id}/cancel", cancel_alert)
    r.add_get("/corrections", corrections_page)
    r.add_get("/items/{item_id}/correct", correct_page)
    r.add_post("/items/{item_id}/correct", create_correction)
    r.add_get("/corrections/{correction_id}", correction_page)
    r.add_post("/corrections/{correction_id}/send", send_correction)
    r.add_post("/corrections/{correction_id}/cancel", cancel_correction)


def _who(request: web.Request) -> str:
    return f"editor {current(request).editor.email} (console)"


def _status(request: web.Request) -> str | None:
    status = request.query.get("status") or None
    return status if status in STATUSES else None


# ------------------------------------------------------------------------------ alerts


async def alerts_page(request: web.Request, *, form: FormInput | None = None) -> web.StreamResponse:
    status = _status(request)
    item = whole_number(request.query.get("item", ""))
    return render(
        request,
        "console/alerts.html",
        status=status_of(form),
        title="Alerts",
        alerts=await alerts.list_alerts(request.app[keys.pool_key], status=status),
        status_filter=status or "",
        statuses=STATUSES,
        form=form or FormInput.prefilled({"item_id": str(item) if item else ""}),
    )


async def create_alert(request: web.Request) -> web.StreamResponse:
    form = await FormInput.read(request)
    item_id = form.integer("item_id", label="The item number", minimum=1, maximum=10**12)
    if form.ok:
        try:
            draft = await alerts.create(
                request.app[keys.pool_key],
                request.app[keys.settings_key],
                item_id,
                requested_by=_who(request),
            )
        except (InvalidInput, Conflict) as exc:
            form.refused(exc, field="item_id")
        else:
            raise web.HTTPSeeOther(f"/console/alerts/{draft.notice_id}")
    return await alerts_page(request, form=form)


async def alert_page(
    request: web.Request, *, problem: str = "", status: int = 200
) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    settings = request.app[keys.settings_key]
    alert = await alerts.get_alert(pool, path_id(request, "alert_id"))
    body = await alerts.current_content(pool, settings, alert["alert_id"])
    return render(
        request,
        "console/alert.html",
        status=status,
        title=f"Alert: {alert['subject']}",
        alert=alert,
        audience=people(alert["recipients"]),
        shown=await preview(pool, settings, alerts.KIND, body),
        problem=problem,
    )


async def send_alert(request: web.Request) -> web.StreamResponse:
    alert_id = path_id(request, "alert_id")
    form = await request.post()
    confirmed = whole_number(str(form.get("confirm", "")))
    try:
        await alerts.confirm(
            request.app[keys.pool_key], request.app[keys.settings_key], alert_id,
            confirmed=confirmed, confirmed_by=_who(request),
        )  # fmt: skip
    except AudienceChanged as exc:
        return await alert_page(request, problem=f"{exc}. Check the new count.", status=409)
    except (InvalidInput, Conflict) as exc:
        return await alert_page(request, problem=str(exc), status=_code(exc))
    raise web.HTTPSeeOther(f"/console/mailings/{alert_id}")


async def cancel_alert(request: web.Request) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    alert_id = path_id(request, "alert_id")
    await alerts.get_alert(pool, alert_id)  # 404 for anything that is not an alert
    try:
        await mailings.cancel(pool, alert_id)
    except Conflict as exc:
        return await alert_page(request, problem=str(exc), status=409)
    raise web.HTTPSeeOther(f"/console/alerts/{alert_id}")


def _code(exc: Exception) -> int:
    return 409 if isinstance(exc, Conflict) else 400


# ------------------------------------------------------------------------------ corrections


async def corrections_page(request: web.Request) -> web.StreamResponse:
    item = whole_number(request.query.get("item", ""))
    status = _status(request)
    found = await corrections.list_corrections(
        request.app[keys.pool_key], item_id=item, status=status
    )
    return render(
        request,
        "console/corrections.html",
        title="Corrections",
        corrections=found,
        item_filter=item,
        status_filter=status or "",
        statuses=STATUSES,
    )


async def correct_page(
    request: web.Request, *, form: FormInput | None = None
) -> web.StreamResponse:
    item_id = path_id(request, "item_id")
    return render(
        request,
        "console/correct.html",
        status=status_of(form),
        title=f"Correct item {item_id}",
        item_id=item_id,
        form=form or FormInput.prefilled({}),
    )


async def create_correction(request: web.Request) -> web.StreamResponse:
    item_id = path_id(request, "item_id")
    form = await FormInput.read(request)
    note = form.text("note", label="What changed and why", required=True, max_length=2000)
    retract = form.checkbox("retract")
    title = form.text("title", label="The corrected title", max_length=500)
    summary = form.text("summary_html", label="The corrected summary", max_length=20_000)
    if form.ok:
        change = corrections.Change(note, retract, title or None, summary or None)
        try:
            draft = await corrections.correct(
                request.app[keys.pool_key], request.app[keys.settings_key], item_id, change,
                requested_by=_who(request),
            )  # fmt: skip
        except (InvalidInput, Conflict) as exc:
            form.refused(exc, field="note")
        else:
            raise web.HTTPSeeOther(f"/console/corrections/{draft.notice_id}")
    return await correct_page(request, form=form)


async def correction_page(
    request: web.Request, *, problem: str = "", status: int = 200
) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    settings = request.app[keys.settings_key]
    found = await corrections.get_correction(pool, path_id(request, "correction_id"))
    shown: dict[str, Any] | None = None
    if found["mailing_id"] is not None:
        body = await corrections.notice_content(pool, found["correction_id"])
        shown = await preview(pool, settings, corrections.KIND, body)
    return render(
        request,
        "console/correction.html",
        status=status,
        title=f"Correction {found['correction_id']}",
        c=found,
        audience=people(found["recipients"] or 0),
        shown=shown,
        problem=problem,
    )


async def send_correction(request: web.Request) -> web.StreamResponse:
    correction_id = path_id(request, "correction_id")
    form = await request.post()
    confirmed = whole_number(str(form.get("confirm", "")))
    try:
        await corrections.confirm(
            request.app[keys.pool_key], request.app[keys.settings_key], correction_id,
            confirmed=confirmed, confirmed_by=_who(request),
        )  # fmt: skip
    except AudienceChanged as exc:
        return await correction_page(request, problem=f"{exc}. Check the new count.", status=409)
    except (InvalidInput, Conflict) as exc:
        return await correction_page(request, problem=str(exc), status=_code(exc))
    found = await corrections.get_correction(request.app[keys.pool_key], correction_id)
    raise web.HTTPSeeOther(f"/console/mailings/{found['mailing_id']}")


async def cancel_correction(request: web.Request) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    correction_id = path_id(request, "correction_id")
    found = await corrections.get_correction(pool, correction_id)
    if found["mailing_id"] is None:
        return await correction_page(request, problem="There is no notice to cancel.", status=409)
    try:
        await mailings.cancel(pool, found["mailing_id"])
    except Conflict as exc:
        return await correction_page(request, problem=str(exc), status=409)
    raise web.HTTPSeeOther(f"/console/corrections/{correction_id}")
