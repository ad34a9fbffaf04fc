"""The editor console under /console: server-rendered pages for editors and admins.

How to add a page
-----------------
1. **Handler**: a thin `async def my_page(request) -> web.StreamResponse` in a module of this
   package, one module per page group (e.g. `subscribers.py`). It parses, calls the domain
   functions (plain functions taking the pool, as the API uses them) and returns
   `render(request, "console/my_page.html", title="...", **values)` from `page.py`.
2. **Route**: one line in `add_routes` below, on the `console` sub-application (paths are
   relative to /console). Add it to `NAV` in `page.py` if it is a section of the menu.
3. **Role guard**: every console route requires a signed-in editor (default deny, enforced
   by the middleware in `session.py`). Decorate with `@admin_only` for admins only (editors
   get 403); `@public` is only for the sign-in and set-password pages. `current(request)`
   gives the `Session` (`.editor.role`, `.editor.email`, `.csrf_token`).
4. **CSRF**: every POST form carries the token, checked before the handler runs (403 if
   missing or wrong): `<input type="hidden" name="{{ csrf_field }}" value="{{ csrf_token }}">`.
   Scripts send it as the `X-CSRF-Token` header (read it from the page's
   `<meta name="csrf-token">`). Answer a successful POST with a redirect (303).
5. **Template**: `templates/console/my_page.html` starting with
   `{% extends "console/_layout.html" %}`, with `{% block content %}` (and optionally
   `{% block scripts %}` for `<script src="/static/console/x.js" defer></script>`: files
   only, the CSP forbids inline scripts). Autoescape is on; never mark user text `|safe`.
   Mail HTML is shown only in a sandboxed iframe (see MAIL_PREVIEW_CSP).
6. **Errors**: raise the domain's NotFound/Conflict/InvalidInput (or web.HTTP*): the
   middleware renders them in the console layout with the right status.
7. **Tests**: `tests/integration/test_console_*.py` with the `console` fixtures, and a
   browser test in `tests/browser/` for what people click.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from mailer.web import keys
from mailer.web.console import (
    api_keys,
    auth,
    clicks,
    dashboard,
    digest_actions,
    digests,
    editors,
    exports,
    feedback,
    feeds,
    hooks,
    imports,
    items,
    mail_templates,
    notices,
    repermission,
    sending,
    series,
    subscriber_choices,
    subscribers,
    topics,
    when,
)
from mailer.web.console.page import error_page
from mailer.web.console.session import console_middleware, serializer, serializer_key


def localtime(moment: datetime | None, zone: str) -> str:
    """A time as people read it, in the editor's zone."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(zone)).strftime("%d %b %Y %H:%M")


async def _to_console(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently("/console/")


def add_routes(app: web.Application) -> None:
    """Mount the console on the main application at /console."""
    console = web.Application(middlewares=[console_middleware(error_page)])
    console[keys.pool_key] = app[keys.pool_key]
    console[keys.settings_key] = app[keys.settings_key]
    console[keys.pages_key] = app[keys.pages_key]
    console[keys.signer_key] = app[keys.signer_key]
    console[serializer_key] = serializer(app[keys.settings_key])
    app[keys.pages_key].filters["localtime"] = localtime
    when.install(app[keys.pages_key])
    app.router.add_get("/console", _to_console)

    r = console.router
    r.add_get("/sign-in", auth.sign_in_page)
    r.add_post("/sign-in", auth.sign_in_post)
    r.add_post("/sign-out", auth.sign_out)
    r.add_get("/set-password/{token}", auth.set_password_page)
    r.add_post("/set-password/{token}", auth.set_password_post)
    r.add_get("/choose-password", auth.choose_password_page)
    r.add_post("/choose-password", auth.choose_password_post)

    r.add_get("/", dashboard.dashboard)
    items.add_routes(r)
    digests.add_routes(r)
    digest_actions.add_routes(r)
    clicks.add_routes(r)
    sending.add_routes(console)
    # Subscribers (data requests admin-only), and the admin pages.
    subscribers.add_routes(r)
    subscriber_choices.add_routes(r)
    exports.add_routes(r)
    imports.add_routes(console)
    feedback.add_routes(r)
    notices.add_routes(r)
    repermission.add_routes(r)
    hooks.add_routes(r)
    mail_templates.add_routes(r)
    feeds.add_routes(r)
    topics.add_routes(r)
    series.add_routes(r)
    api_keys.add_routes(r)
    editors.add_routes(r)

    app.add_subapp("/console", console)
