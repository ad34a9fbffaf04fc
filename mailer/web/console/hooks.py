"""Outbound webhooks (admin): endpoints (add, pause, remove), each one's delivery log, and
sending a delivery (or every failed one) again. A new endpoint's secret is shown once."""

from __future__ import annotations

from aiohttp import web

from mailer.accounts import form_nonces
from mailer.errors import InvalidInput
from mailer.feedback import hooks
from mailer.web import keys
from mailer.web.api import path_id
from mailer.web.console.form_input import FormInput, status_of
from mailer.web.console.page import already_done, render
from mailer.web.console.session import admin_only, current


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/webhooks", hooks_page)
    r.add_post("/webhooks", create_hook)
    r.add_get("/webhooks/{endpoint_id}", hook_page)
    r.add_post("/webhooks/{endpoint_id}/active", set_active)
    r.add_post("/webhooks/{endpoint_id}/remove", remove_hook)
    r.add_post("/webhooks/{endpoint_id}/resend-failed", resend_failed)
    r.add_post("/webhooks/{endpoint_id}/deliveries/{hook_delivery_id}/resend", resend_one)


@admin_only
async def hooks_page(request: web.Request, *, form: FormInput | None = None) -> web.StreamResponse:
    done = request.query.get("done", "")
    notices = {"removed": "Endpoint removed, with its delivery log."}
    return render(
        request,
        "console/webhooks.html",
        status=status_of(form),
        title="Webhooks",
        endpoints=await hooks.list_endpoints(request.app[keys.pool_key]),
        notice=notices.get(done, ""),
        form=form or FormInput.prefilled({"events": "*"}),
    )


@admin_only
async def create_hook(request: web.Request) -> web.StreamResponse:
    settings = request.app[keys.settings_key]
    form = await FormInput.read(request)
    url = form.text("url", label="The address", required=True, max_length=2000)
    events = form.text("events", label="The events", required=True, max_length=1000)
    description = form.text("description", label="The description", max_length=500)
    nonce = form.nonce()
    types = [t for t in events.replace(",", " ").split() if t]
    if form.ok:
        try:
            hooks.check_url(url, settings)
            hooks.check_event_types(types)
        except InvalidInput as exc:
            form.refused(exc, field="url", names={"events": "events"})
    if form.ok:
        pool = request.app[keys.pool_key]
        try:
            async with pool.acquire() as conn, conn.transaction():
                await form_nonces.spend(
                    conn, nonce, editor_id=current(request).editor.editor_id,
                    done=f"Webhook endpoint {url} was added",
                )  # fmt: skip
        except form_nonces.AlreadyDone as exc:
            return already_done(
                request, exc, back="/console/webhooks", back_label="Webhooks",
                advice="Its secret is not shown again. If it was not copied, remove the "
                "endpoint and add it again.",
            )  # fmt: skip
        made = await hooks.create_endpoint(
            pool, settings, url=url, event_types=types, description=description
        )
        return render(
            request, "console/webhook_created.html", status=201, title="Webhook added",
            endpoint=made,
        )  # fmt: skip
    return await hooks_page(request, form=form)


@admin_only
async def hook_page(request: web.Request) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    endpoint_id = path_id(request, "endpoint_id")
    status = request.query.get("status") or None
    if status not in hooks.STATUSES:
        status = None
    (endpoint,) = await hooks.list_endpoints(pool, endpoint_id)
    done = request.query.get("resent", "")
    return render(
        request,
        "console/webhook.html",
        title=f"Webhook {endpoint_id}",
        e=endpoint,
        deliveries=await hooks.list_deliveries(pool, endpoint_id, status=status),
        status_filter=status or "",
        statuses=hooks.STATUSES,
        resent=int(done) if done.isdigit() and len(done) < 7 else None,
    )


@admin_only
async def set_active(request: web.Request) -> web.StreamResponse:
    endpoint_id = path_id(request, "endpoint_id")
    form = await request.post()
    await hooks.update_endpoint(
        request.app[keys.pool_key], request.app[keys.settings_key], endpoint_id,
        active=form.get("active") == "yes",
    )  # fmt: skip
    raise web.HTTPSeeOther(f"/console/webhooks/{endpoint_id}")


@admin_only
async def remove_hook(request: web.Request) -> web.StreamResponse:
    await hooks.delete_endpoint(request.app[keys.pool_key], path_id(request, "endpoint_id"))
    raise web.HTTPSeeOther("/console/webhooks?done=removed")


@admin_only
async def resend_failed(request: web.Request) -> web.StreamResponse:
    endpoint_id = path_id(request, "endpoint_id")
    found = await hooks.resend(
        request.app[keys.pool_key], request.app[keys.settings_key], endpoint_id, all_failed=True
    )
    raise web.HTTPSeeOther(f"/console/webhooks/{endpoint_id}?resent={len(found)}")


@admin_only
async def resend_one(request: web.Request) -> web.StreamResponse:
    endpoint_id = path_id(request, "endpoint_id")
    found = await hooks.resend(
        request.app[keys.pool_key], request.app[keys.settings_key], endpoint_id,
        path_id(request, "hook_delivery_id"),
    )  # fmt: skip
    raise web.HTTPSeeOther(f"/console/webhooks/{endpoint_id}?resent={len(found)}")
