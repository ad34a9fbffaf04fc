"""API keys (admin): list (never the keys themselves) with their roles, create, revoke.

A new key is shown once, on the page that answers the creating POST, rather than after a
redirect: carrying it across a redirect would mean storing it (a cookie, a table), and only
its hash is ever stored. That page is `no-store`; reloading it posts the form again, whose
one-time nonce is spent by then: the answer says the key was made and shown once, and no
second key is made (form_nonces.py)."""

from __future__ import annotations

from aiohttp import web

from mailer.accounts import api_keys, form_nonces
from mailer.errors import InvalidInput
from mailer.numbers import whole_number
from mailer.web import keys
from mailer.web.api import path_id
from mailer.web.console.form_input import FormInput, status_of
from mailer.web.console.page import already_done, render
from mailer.web.console.session import admin_only, current

ROLES = ("editor", "admin")


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/api-keys", api_keys_page)
    r.add_post("/api-keys", create_api_key)
    r.add_post("/api-keys/{api_key_id}/revoke", revoke_api_key)


@admin_only
async def api_keys_page(
    request: web.Request, *, form: FormInput | None = None
) -> web.StreamResponse:
    revoked = request.query.get("revoked", "")
    return render(
        request,
        "console/api_keys.html",
        status=status_of(form),
        title="API keys",
        api_keys=await api_keys.list_api_keys(request.app[keys.pool_key]),
        revoked=whole_number(revoked),
        form=form or FormInput.prefilled({"role": "editor"}),
    )


@admin_only
async def create_api_key(request: web.Request) -> web.StreamResponse:
    form = await FormInput.read(request)
    name = form.text("name", label="The name", required=True, max_length=100)
    role = form.choice("role", label="Role", options=ROLES)
    nonce = form.nonce()
    if form.ok:
        try:
            async with request.app[keys.pool_key].acquire() as conn, conn.transaction():
                await form_nonces.spend(
                    conn, nonce, editor_id=current(request).editor.editor_id,
                    done=f"API key “{name}” was made",
                )  # fmt: skip
                key_id, key = await api_keys.create_api_key(conn, name, role)
        except form_nonces.AlreadyDone as exc:
            return already_done(
                request, exc, back="/console/api-keys", back_label="API keys",
                advice="It is not shown again: only a hash of it is kept. If it was not "
                "copied, revoke it and create another.",
            )  # fmt: skip
        except InvalidInput as exc:
            form.refused(exc, field="name")
        else:
            return render(
                request, "console/api_key_created.html", status=201, title="API key created",
                key_id=key_id, name=name, key=key, role=role,
            )  # fmt: skip
    return await api_keys_page(request, form=form)


@admin_only
async def revoke_api_key(request: web.Request) -> web.StreamResponse:
    key_id = path_id(request, "api_key_id")
    await api_keys.revoke_api_key(request.app[keys.pool_key], key_id)
    raise web.HTTPSeeOther(f"/console/api-keys?revoked={key_id}")
