"""Rendering console pages: the layout's context (who, navigation, CSRF token), errors."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from mailer.accounts.form_nonces import AlreadyDone
from mailer.web import keys
from mailer.web.console.session import CSRF_FIELD, session_key
from mailer.web.middleware import error_response, wants_json


@dataclass(frozen=True)
class NavEntry:
    label: str
    path: str
    admin_only: bool = False


# The console's sections, in menu order; admin-only entries are hidden from editors (and
# their pages answer 403 to them whatever the menu shows).
NAV = (
    NavEntry("Dashboard", "/console/"),
    NavEntry("Items", "/console/items"),
    NavEntry("Digests", "/console/digests"),
    NavEntry("Alerts", "/console/alerts"),  # and corrections
    NavEntry("Clicks", "/console/clicks"),  # per mailing and per item, no one's own
    NavEntry("Subscribers", "/console/subscribers"),  # data requests in it: admins only
    NavEntry("Suppressions", "/console/suppressions"),  # and the bounce reports
    NavEntry("Re-permission", "/console/repermission"),
    NavEntry("Feeds", "/console/feeds", admin_only=True),
    NavEntry("Topics", "/console/topics", admin_only=True),
    NavEntry("Series", "/console/series", admin_only=True),
    NavEntry("API keys", "/console/api-keys", admin_only=True),
    NavEntry("Webhooks", "/console/webhooks", admin_only=True),
    NavEntry("Mail templates", "/console/templates", admin_only=True),
    NavEntry("Editors", "/console/editors", admin_only=True),
)


# Pages under another section of the menu than their path says.
_SECTION_OF = {
    "/console/mailings": "/console/digests",
    "/console/bounce-reports": "/console/suppressions",
    "/console/corrections": "/console/alerts",
}


def _section(path: str) -> str:
    """The nav entry a path belongs to (longest matching prefix)."""
    for prefix, section in _SECTION_OF.items():
        if path.startswith(prefix + "/"):
            return section
    best = "/console/"
    for entry in NAV:
        if entry.path != "/console/" and (path == entry.path or path.startswith(entry.path + "/")):
            best = entry.path
    return best


def context(request: web.Request) -> dict[str, Any]:
    settings = request.app[keys.settings_key]
    session = request.get(session_key)
    editor = session.editor if session else None
    nav = [e for e in NAV if editor is not None and (editor.is_admin or not e.admin_only)]
    return {
        "org": settings.organisation,
        "logo_url": settings.logo_url,
        "editor": editor,
        "csrf_field": CSRF_FIELD,
        "csrf_token": session.csrf_token if session else "",
        # A fresh one-time nonce per form that makes a secret (see form_nonces.py).
        "new_nonce": lambda: secrets.token_urlsafe(18),
        "nav": nav,
        "section": _section(request.path),
    }


def render(
    request: web.Request, template: str, *, status: int = 200, **values: Any
) -> web.Response:
    """A console page; `values` may override the layout's context (e.g. a pre-session token)."""
    page = request.app[keys.pages_key].get_template(template)
    html = page.render({**context(request), **values})
    return web.Response(text=html, status=status, content_type="text/html")


def already_done(
    request: web.Request, exc: AlreadyDone, *, advice: str, back: str, back_label: str
) -> web.Response:
    """The answer to a form posted again (a reloaded page): what the first post made, and
    that its secret is not shown again; nothing new is made."""
    return render(
        request, "console/already_done.html", status=409, title="Already done",
        done=exc.done, advice=advice, back=back, back_label=back_label,
    )  # fmt: skip


_TITLES = {
    400: "Bad request",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    429: "Slow down",
}


def error_page(
    request: web.Request, status: int, message: str, fields: dict[str, str]
) -> web.StreamResponse:
    """Errors inside the console keep its layout (JSON for scripts)."""
    if wants_json(request) or request.headers.get("Accept", "").startswith("text/event-stream"):
        return error_response(request, status, message, fields)
    title = _TITLES.get(status, "Something went wrong" if status >= 500 else "Error")
    response = render(
        request,
        "console/error.html",
        status=status,
        title=title,
        status_code=status,
        message=message,
        fields=fields,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
