"""One access-log line and the HTTP metrics per request, under a request id that is
accepted from the caller (X-Request-Id) or made here, and echoed on the response."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from mailer.logs import request_id_var
from mailer.web import keys

log = logging.getLogger("mailer.access")

REQUEST_ID_HEADER = "X-Request-Id"
# What a proxy or a caller may hand us: short, printable, nothing a log reader could be fooled
# by (no spaces, quotes or newlines). Anything else is replaced by an id of our own.
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
# Where error_response leaves the message it showed, for the log line.
ERROR_KEY = web.RequestKey("error_message", str)
UNMATCHED = "unmatched"  # a 404 or 405 outside every route: one series, not one per path


# Our own ids: 32 hex digits, a random half per process and a counter, so that making one
# costs no system call (an id needs to be unique, not secret).
_ID_PREFIX = secrets.token_hex(8)
_ID_COUNTER = itertools.count(int.from_bytes(secrets.token_bytes(4)))


def request_id_of(request: web.Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER)
    if given and _ACCEPTED_ID.fullmatch(given):
        return given
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFFFFFFFF:016x}"


def route_of(request: web.Request) -> str:
    """The route's pattern (`/preferences/{token}`), never the concrete path: personal
    tokens stay out of logs and metrics, and the label's values stay few."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request_id_of(request)
    request_id_var.set(request_id)  # each request runs in its own task: its own context
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers[REQUEST_ID_HEADER] = request_id
        return response
    except web.HTTPException as exc:  # redirects pass through the error middleware as raised
        status = exc.status
        exc.headers[REQUEST_ID_HEADER] = request_id
        raise
    except asyncio.CancelledError:
        status = 499  # the client went away first (nginx's number for it)
        raise
    finally:
        _record(request, request_id, status, time.perf_counter() - started)


def _record(request: web.Request, request_id: str, status: int, seconds: float) -> None:
    route = route_of(request)
    method = request.method
    request.app[keys.metrics_key].http_observe(route, method, status, seconds)
    error = request.get(ERROR_KEY)
    refused = route.startswith("/webhooks/") and status >= 400
    level = logging.WARNING if refused or status >= 500 else logging.INFO
    if not log.isEnabledFor(level):  # MAILER_LOG_LEVEL=WARNING: most lines are not written
        return
    fields: dict[str, object] = {
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
        "request_id": request_id,
    }
    if error:
        fields["error"] = error
    if refused:
        # A refused webhook is someone's integration failing (or someone probing): say why.
        log.warning("refused webhook %s %s: %d %s", method, route, status, error, extra=fields)
    else:
        log.log(level, "%s %s %d %.1f ms", method, route, status, seconds * 1000, extra=fields)
