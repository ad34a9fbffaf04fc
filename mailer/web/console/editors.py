"""Editor accounts (admin): list, invite, change role, disable and enable, reset password.

Invitations and resets give a one-time set-password link (72 hours) that is shown once to
the admin, who passes it on; nothing is mailed. The delivery engine is built for
subscribers (unsubscribe headers, consent, footers), and a mailed link would sit in plain
text in the deliveries table, while the database otherwise keeps only the link's hash. The
link is shown on the page answering the POST (see api_keys.py for why not after a redirect);
the forms carry a one-time nonce, so reloading that page makes no second link.
"""

from __future__ import annotations

from aiohttp import web

from mailer.accounts import editors, form_nonces
from mailer.errors import Conflict, InvalidInput
from mailer.web import keys
from mailer.web.api import path_id
from mailer.web.console.form_input import FormInput, status_of
from mailer.web.console.page import already_done, render
from mailer.web.console.session import admin_only, current

ROLES = [role.value for role in editors.Role]


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/editors", editors_page)
    r.add_post("/editors", invite_editor)
    r.add_post("/editors/{editor_id}/role", change_role)
    r.add_post("/editors/{editor_id}/disable", disable_editor)
    r.add_post("/editors/{editor_id}/enable", enable_editor)
    r.add_post("/editors/{editor_id}/reset-password", reset_password)


def password_link(request: web.Request, token: str) -> str:
    return f"{request.app[keys.settings_key].base_url}/console/set-password/{token}"


@admin_only
async def editors_page(
    request: web.Request,
    *,
    form: FormInput | None = None,
    row_error: tuple[int, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    """The accounts and the invitation form; `row_error` is a refused change of one row."""
    done = request.query.get("done", "")
    return render(
        request,
        "console/editors.html",
        status=status_of(form, status),
        title="Editors",
        accounts=await editors.list_editors(request.app[keys.pool_key]),
        roles=ROLES,
        me=current(request).editor.editor_id,
        done=done if done in ("role", "disabled", "enabled") else "",
        form=form or FormInput.prefilled({"role": "editor"}),
        row_error=row_error,
        link_hours=editors.PASSWORD_LINK_SECONDS // 3600,
    )


_LINK_ADVICE = (
    "It is not shown again: only a hash of it is kept. If it was lost, press "
    "“Reset password” on the account for a new link."
)


def _link_page(request: web.Request, email: str, token: str, *, invited: bool) -> web.Response:
    return render(
        request,
        "console/editor_link.html",
        status=201 if invited else 200,
        title="Account invited" if invited else "Password reset",
        email=email,
        link=password_link(request, token),
        invited=invited,
        hours=editors.PASSWORD_LINK_SECONDS // 3600,
    )


@admin_only
async def invite_editor(request: web.Request) -> web.StreamResponse:
    form = await FormInput.read(request)
    email = form.text("email", label="The address", required=True, max_length=320)
    name = form.text("name", label="The name", max_length=100)
    role = form.choice("role", label="Role", options=ROLES)
    nonce = form.nonce()
    if form.ok:
        try:
            async with request.app[keys.pool_key].acquire() as conn, conn.transaction():
                await form_nonces.spend(
                    conn, nonce, editor_id=current(request).editor.editor_id,
                    done=f"account for {email} and its set-password link were made",
                )  # fmt: skip
                _, token = await editors.create_editor(conn, email=email, name=name, role=role)
        except form_nonces.AlreadyDone as exc:
            return already_done(
                request, exc, advice=_LINK_ADVICE, back="/console/editors", back_label="Editors"
            )
        except (InvalidInput, Conflict) as exc:
            form.refused(exc, field="email")
        else:
            assert token is not None  # no password given: always a link
            return _link_page(request, email, token, invited=True)
    return await editors_page(request, form=form)


async def _change(
    request: web.Request, *, role: str | None = None, disabled: bool | None = None
) -> web.StreamResponse:
    """Apply a change from a row's buttons; a refusal comes back beside that row."""
    editor_id = path_id(request, "editor_id")
    form = await FormInput.read(request)
    if role is not None:
        role = form.choice("role", label="Role", options=ROLES)
    if form.ok:
        try:
            await editors.change_editor(
                request.app[keys.pool_key],
                editor_id,
                actor_id=current(request).editor.editor_id,
                role=role,
                disabled=disabled,
            )
        except (InvalidInput, Conflict) as exc:
            form.refused(exc, field="row")
        else:
            done = "role" if role else ("disabled" if disabled else "enabled")
            raise web.HTTPSeeOther(f"/console/editors?done={done}#editor-{editor_id}")
    message = next(iter(form.errors.values()))
    return await editors_page(request, row_error=(editor_id, message), status=form.status)


@admin_only
async def change_role(request: web.Request) -> web.StreamResponse:
    return await _change(request, role="")


@admin_only
async def disable_editor(request: web.Request) -> web.StreamResponse:
    return await _change(request, disabled=True)


@admin_only
async def enable_editor(request: web.Request) -> web.StreamResponse:
    return await _change(request, disabled=False)


@admin_only
async def reset_password(request: web.Request) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    row = await editors.get_editor(pool, path_id(request, "editor_id"))
    nonce = (await FormInput.read(request)).nonce()
    try:
        async with pool.acquire() as conn, conn.transaction():
            await form_nonces.spend(
                conn, nonce, editor_id=current(request).editor.editor_id,
                done=f"new set-password link for {row['email']} was made",
            )  # fmt: skip
            token = await editors.password_link_token(conn, row["email"])
    except form_nonces.AlreadyDone as exc:
        return already_done(
            request, exc, advice=_LINK_ADVICE, back="/console/editors", back_label="Editors"
        )
    except Conflict as exc:
        return await editors_page(request, row_error=(row["editor_id"], str(exc)), status=409)
    return _link_page(request, row["email"], token, invited=False)
