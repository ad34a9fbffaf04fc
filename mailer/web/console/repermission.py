"""Re-permission in the console: see how many readers a campaign would ask, send it
(confirming that count), and after the answer window, see the counts first and confirm
the removal of those who did not answer. Nothing is removed without that confirmation."""

from __future__ import annotations

from aiohttp import web

from mailer.editorial import repermission
from mailer.editorial.notices import AudienceChanged, preview
from mailer.errors import Conflict, InvalidInput
from mailer.numbers import people, whole_number
from mailer.web import keys
from mailer.web.api import path_id
from mailer.web.console.form_input import FormInput, status_of
from mailer.web.console.page import render
from mailer.web.console.schedule_form import editor_zone, parse_local
from mailer.web.console.session import current

DEFAULTS = {"months": "12", "days": "30"}


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/repermission", campaigns_page)
    r.add_post("/repermission", create_campaign)
    r.add_get("/repermission/{campaign_id}", campaign_page)
    r.add_post("/repermission/{campaign_id}/send", send_campaign)
    r.add_post("/repermission/{campaign_id}/schedule", schedule_campaign)
    r.add_post("/repermission/{campaign_id}/remove", remove_unanswered)
    r.add_post("/repermission/{campaign_id}/cancel", cancel_campaign)


def _who(request: web.Request) -> str:
    return f"editor {current(request).editor.email} (console)"


def _terms(form: FormInput) -> repermission.Terms | None:
    months = form.integer("months", label="Months since they confirmed", minimum=1, maximum=120)
    days = form.integer("days", label="Days to answer", minimum=1, maximum=90)
    return repermission.Terms(months, days) if form.ok else None


async def campaigns_page(
    request: web.Request, *, form: FormInput | None = None
) -> web.StreamResponse:
    """The campaigns; with ?months=&days=, how many readers such a campaign would ask."""
    pool = request.app[keys.pool_key]
    count = None
    if form is None and "months" in request.query:
        form = FormInput(request.query)
        terms = _terms(form)
        if terms is not None:
            count = await repermission.preview_count(pool, terms)
    return render(
        request,
        "console/repermission.html",
        status=status_of(form),
        title="Re-permission",
        campaigns=await repermission.list_campaigns(pool),
        form=form or FormInput.prefilled(DEFAULTS),
        count=people(count) if count is not None else None,
    )


async def create_campaign(request: web.Request) -> web.StreamResponse:
    form = await FormInput.read(request)
    terms = _terms(form)
    if terms is not None:
        try:
            campaign = await repermission.create_campaign(
                request.app[keys.pool_key], request.app[keys.settings_key], terms,
                requested_by=_who(request),
            )  # fmt: skip
        except (InvalidInput, Conflict) as exc:
            form.refused(exc, field="months")
        else:
            raise web.HTTPSeeOther(f"/console/repermission/{campaign['campaign_id']}")
    return await campaigns_page(request, form=form)


async def campaign_page(
    request: web.Request, *, problem: str = "", status: int = 200
) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    settings = request.app[keys.settings_key]
    campaign = await repermission.get_campaign(pool, path_id(request, "campaign_id"))
    terms = repermission.Terms(campaign["older_than_months"], campaign["answer_days"])
    return render(
        request,
        "console/repermission_campaign.html",
        status=status,
        title=f"Re-permission campaign {campaign['campaign_id']}",
        c=campaign,
        audience=people(campaign["recipients"]),
        zone=editor_zone(request),
        shown=await preview(
            pool, settings, repermission.KIND, repermission.content(settings, terms)
        ),
        problem=problem,
    )


async def _confirmed(request: web.Request) -> int | None:
    """The count the editor gives back (the one the page showed them)."""
    form = await request.post()
    return whole_number(str(form.get("confirm", "")))


async def send_campaign(request: web.Request) -> web.StreamResponse:
    campaign_id = path_id(request, "campaign_id")
    confirmed = await _confirmed(request)
    try:
        await repermission.send_campaign(
            request.app[keys.pool_key], request.app[keys.settings_key], campaign_id,
            confirm=confirmed, by=_who(request),
        )  # fmt: skip
    except AudienceChanged as exc:
        return await campaign_page(request, problem=f"{exc}. Check the new count.", status=409)
    except (InvalidInput, Conflict) as exc:
        return await campaign_page(request, problem=str(exc), status=_code(exc))
    raise web.HTTPSeeOther(f"/console/repermission/{campaign_id}")


async def schedule_campaign(request: web.Request) -> web.StreamResponse:
    """Send later: a local date-time in the editor's zone, the count confirmed now."""
    campaign_id = path_id(request, "campaign_id")
    form = await request.post()
    try:
        send_at = parse_local(str(form.get("send_at", "")), editor_zone(request))
        await repermission.schedule_campaign(
            request.app[keys.pool_key], campaign_id,
            confirm=whole_number(str(form.get("confirm", ""))), send_at=send_at,
            by=_who(request),
        )  # fmt: skip
    except AudienceChanged as exc:
        return await campaign_page(request, problem=f"{exc}. Check the new count.", status=409)
    except (InvalidInput, Conflict) as exc:
        message = "; ".join(exc.fields.values()) if isinstance(exc, InvalidInput) else ""
        return await campaign_page(request, problem=message or str(exc), status=_code(exc))
    raise web.HTTPSeeOther(f"/console/repermission/{campaign_id}")


async def remove_unanswered(request: web.Request) -> web.StreamResponse:
    campaign_id = path_id(request, "campaign_id")
    confirmed = await _confirmed(request)
    try:
        await repermission.remove_unanswered(
            request.app[keys.pool_key], campaign_id, confirm=confirmed, by=_who(request)
        )
    except (InvalidInput, Conflict) as exc:
        return await campaign_page(request, problem=str(exc), status=_code(exc))
    raise web.HTTPSeeOther(f"/console/repermission/{campaign_id}")


async def cancel_campaign(request: web.Request) -> web.StreamResponse:
    campaign_id = path_id(request, "campaign_id")
    try:
        await repermission.cancel_campaign(
            request.app[keys.pool_key], campaign_id, by=_who(request)
        )
    except Conflict as exc:
        return await campaign_page(request, problem=str(exc), status=409)
    raise web.HTTPSeeOther(f"/console/repermission/{campaign_id}")


def _code(exc: Exception) -> int:
    return 409 if isinstance(exc, Conflict) else 400
