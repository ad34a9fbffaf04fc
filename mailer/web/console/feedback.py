"""Suppressions (list, add, lift) and received bounce reports (raw, with what was decided):
the API's feedback views, on screen for editors."""

from __future__ import annotations

from aiohttp import web

from mailer.errors import Conflict, InvalidInput, NotFound
from mailer.feedback import reports, suppressions
from mailer.numbers import whole_number
from mailer.web import keys
from mailer.web.api import path_id
from mailer.web.console.form_input import FormInput, status_of
from mailer.web.console.page import render
from mailer.web.console.schedule_form import editor_zone
from mailer.web.console.session import current

REPORT_STATUSES = ("processed", "ignored", "unmatched", "unparseable", "refused")


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/suppressions", suppressions_page)
    r.add_post("/suppressions", add_suppression)
    r.add_post("/suppressions/lift", lift_suppression)
    r.add_get("/bounce-reports", reports_page)
    r.add_get("/bounce-reports/{report_id}", report_page)


def _by(request: web.Request) -> str:
    return f"editor {current(request).editor.email} (console)"


async def suppressions_page(
    request: web.Request, *, form: FormInput | None = None, notice: str = ""
) -> web.StreamResponse:
    reason = request.query.get("reason") or None
    if reason is not None and reason not in suppressions.REASONS:
        reason = None
    found, next_cursor = await suppressions.list_suppressions(
        request.app[keys.pool_key], reason=reason, cursor=request.query.get("cursor") or None
    )
    done = request.query.get("done", "")
    notices = {"added": "Suppressed: that address gets no mail until it is lifted.",
               "lifted": "Lifted: the address can be mailed again."}  # fmt: skip
    return render(
        request,
        "console/suppressions.html",
        status=status_of(form),
        title="Suppressions",
        suppressions=found,
        next_cursor=next_cursor,
        reason=reason or "",
        reasons=suppressions.REASONS,
        notice=notice or notices.get(done, ""),
        form=form or FormInput.prefilled({}),
    )


async def add_suppression(request: web.Request) -> web.StreamResponse:
    form = await FormInput.read(request)
    email = form.text("email", label="The address", required=True, max_length=320)
    detail = form.text("detail", label="The note", max_length=500)
    if form.ok:
        try:
            await suppressions.add(
                request.app[keys.pool_key], email, detail=detail, by=_by(request)
            )
        except (InvalidInput, Conflict) as exc:
            form.refused(exc, field="email")
    if not form.ok:
        return await suppressions_page(request, form=form)
    raise web.HTTPSeeOther("/console/suppressions?done=added")


async def lift_suppression(request: web.Request) -> web.StreamResponse:
    form = await FormInput.read(request)
    email = form.text("lift_email", label="The address", required=True, max_length=320)
    if form.ok:
        try:
            await suppressions.lift(request.app[keys.pool_key], email, by=_by(request))
        except Conflict as exc:
            form.refused(exc, field="lift_email")
        except NotFound as exc:
            form.fail("lift_email", f"{str(exc).capitalize()}.")
            form.status = 404
    if not form.ok:
        return await suppressions_page(request, form=form)
    raise web.HTTPSeeOther("/console/suppressions?done=lifted")


async def reports_page(request: web.Request) -> web.StreamResponse:
    status = request.query.get("status") or None
    if status not in REPORT_STATUSES:
        status = None
    before = whole_number(request.query.get("before", ""))
    rows = await reports.list_reports(request.app[keys.pool_key], status=status, before=before)
    return render(
        request,
        "console/bounce_reports.html",
        title="Bounce reports",
        reports=rows,
        status_filter=status or "",
        statuses=REPORT_STATUSES,
        next_before=rows[-1]["report_id"] if len(rows) == 50 else None,
        zone=editor_zone(request),
    )


async def report_page(request: web.Request) -> web.StreamResponse:
    report = await reports.get_report(request.app[keys.pool_key], path_id(request, "report_id"))
    return render(
        request, "console/bounce_report.html", title=f"Report {report['report_id']}", r=report
    )
