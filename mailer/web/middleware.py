"""Error translation (MailerError -> HTTP, never a traceback) and security headers."""

from __future__ import annotations

import logging
import math

from aiohttp import web
from aiohttp.typedefs import Handler

from mailer.db import DB_BAD_TEXT, DB_UNAVAILABLE
from mailer.errors import (
    Conflict,
    Forbidden,
    Gone,
    InvalidInput,
    MailerError,
    NotFound,
    RateLimited,
)
from mailer.i18n import N_, from_accept_language
from mailer.web import keys
from mailer.web.access_log import ERROR_KEY

log = logging.getLogger(__name__)

# Mail HTML shown in a page is untrusted: no scripts, no same-origin access; remote images
# allowed so that a preview looks like a mail client's.
MAIL_PREVIEW_CSP = (
    "sandbox; default-src 'none'; img-src data: http: https:; style-src 'unsafe-inline'"
)

_TITLES = {
    400: N_("Bad request"),
    403: N_("Forbidden"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    409: N_("Conflict"),
    410: N_("Gone"),
    413: N_("Too large"),
    415: N_("Unsupported content type"),
    429: N_("Too many requests"),
    500: N_("Something went wrong"),
    503: N_("Temporarily unavailable"),
}

UNAVAILABLE = N_("The service is briefly unavailable. Please try again in a minute.")
RETRY_AFTER_UNAVAILABLE = 30  # seconds: about what a database restart or failover takes


def wants_json(request: web.Request) -> bool:
    path = request.path
    return (
        path.startswith(("/api/", "/webhooks/"))
        or path.endswith(".json")
        or request.headers.get("Accept", "").startswith("application/json")
    )


def error_response(
    request: web.Request, status: int, message: str, fields: dict[str, str] | None = None
) -> web.Response:
    """The one shape of every error: JSON for machines, a page for people."""
    request[ERROR_KEY] = message  # for the access log's line
    title = _TITLES.get(status, "Error")
    if wants_json(request):
        body: dict[str, object] = {"error": {"status": status, "message": message}}
        if fields:
            body["error"] = {"status": status, "message": message, "fields": fields}
        return web.json_response(body, status=status)
    language = request.get(keys.language_key) or from_accept_language(
        request.headers.get("Accept-Language")
    )
    pages = request.config_dict[keys.localized_pages_key].get(language)
    settings = request.app[keys.settings_key]
    html = pages.get_template("web/error.html").render(
        title=title,
        status=status,
        message=message,
        fields=fields or {},
        org=settings.organisation,
        logo_url=settings.logo_url,
    )
    return web.Response(text=html, status=status, content_type="text/html")


def describe_error(exc: Exception) -> tuple[int, str, dict[str, str]] | None:
    """(status, message, fields) for an error people may see; None for an unexpected one.
    The one mapping of MailerError (and aiohttp's 4xx/5xx) to HTTP, shared by every page."""
    if isinstance(exc, web.HTTPException):
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        return exc.status, message or _TITLES.get(exc.status, "Error"), {}
    if isinstance(exc, Gone):
        return 410, str(exc), {}
    if isinstance(exc, NotFound):
        return 404, str(exc) or "Not found", {}
    if isinstance(exc, Conflict):
        return 409, str(exc), {}
    if isinstance(exc, InvalidInput):
        return 400, str(exc), exc.fields
    if isinstance(exc, Forbidden):
        return 403, str(exc), {}
    if isinstance(exc, RateLimited):
        return 429, str(exc), {}
    if isinstance(exc, MailerError):
        return 400, str(exc), {}
    if isinstance(exc, DB_UNAVAILABLE):
        return 503, UNAVAILABLE, {}
    if isinstance(exc, DB_BAD_TEXT):
        return 400, "the input has a character that cannot be stored (such as NUL)", {}
    return None


# Route parts that are credentials: a subscriber's signed link, an outbox message key.
_SECRET_PARTS = ("token", "key")


def loggable_path(request: web.Request) -> str:
    """The request's path for a log line, with the signed token of a personal link (which
    opens someone's preferences) replaced by its name: logs are read by more people."""
    path = request.path
    for name in _SECRET_PARTS:
        value = request.match_info.get(name)
        if value:
            path = path.replace(value, "{" + name + "}")
    return path


def log_error(request: web.Request, exc: Exception) -> None:
    expected = (
        web.HTTPException | Gone | NotFound | Conflict | InvalidInput | Forbidden | RateLimited
    )
    if isinstance(exc, (expected, DB_BAD_TEXT)):
        return
    if isinstance(exc, MailerError):
        log.warning(
            "unhandled %s on %s %s: %s",
            type(exc).__name__,
            request.method,
            loggable_path(request),
            exc,
        )
    elif isinstance(exc, DB_UNAVAILABLE):
        log.warning(
            "database unavailable on %s %s: %s",
            request.method,
            loggable_path(request),
            exc or repr(exc),
        )
    else:
        log.error("unexpected error on %s %s", request.method, loggable_path(request), exc_info=exc)


UNEXPECTED = N_("An unexpected error occurred; it has been logged.")


def translate_error(request: web.Request, exc: Exception) -> tuple[int, str, dict[str, str]]:
    """(status, message, fields) to show for any error; redirects and other non-errors
    (aiohttp's HTTPException below 400) are raised again. Unexpected ones are logged."""
    if isinstance(exc, web.HTTPException) and exc.status < 400:
        raise exc
    log_error(request, exc)
    return describe_error(exc) or (500, UNEXPECTED, {})


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Exception as exc:
        status, message, fields = translate_error(request, exc)
        response = error_response(request, status, message, fields or None)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        elif status == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER_UNAVAILABLE)
        elif isinstance(exc, web.HTTPMethodNotAllowed):  # RFC 9110: a 405 says what is
            response.headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        return response


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # Personal tokens travel in URLs; never leak them to other sites.
    headers.setdefault("Referrer-Policy", "no-referrer")
    if "Content-Security-Policy" not in headers:
        headers["X-Frame-Options"] = "SAMEORIGIN"
        if response.content_type == "text/html":
            # Our pages load only our own scripts; inline styles are the base template's.
            headers["Content-Security-Policy"] = (
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                "img-src 'self' data: https:; form-action 'self'; frame-ancestors 'self'"
            )
    return response
