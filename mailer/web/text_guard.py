"""Text that cannot be stored is refused where it enters: a NUL character (PostgreSQL's
text type cannot hold one) in the path, the query string, a form field or a JSON string is a
400 naming the field, before any handler runs, whatever the route."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.typedefs import Handler

from mailer.errors import InvalidInput

NUL = "\x00"
# Bodies read here (aiohttp keeps them, so handlers read them again for free); anything else
# (a multipart upload, a CSV import) is streamed by its handler and not looked at here.
_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"
_MULTIPART = "multipart/form-data"
_API = "/api/"
# How NUL may be spelled in each: a raw byte, a percent-escape, a JSON escape.
_FORM_SIGNS = (b"\x00", b"%00")
_JSON_SIGNS = (b"\x00", b"\\u0000")


def refuse(field: str) -> InvalidInput:
    return InvalidInput(
        f"{field} contains a NUL character, which is not allowed",
        {field: "must not contain a NUL character"},
    )


def _in_pairs(pairs: Any, where: str) -> str | None:
    """The name of the first field whose name or value holds NUL."""
    for name, value in pairs:
        if NUL in name:
            return f"{where}{name.replace(NUL, '')}"
        if isinstance(value, str) and NUL in value:
            return f"{where}{name}"
    return None


def _in_json(value: Any, path: str) -> str | None:
    """The dotted path of the first string (or key) in a JSON document that holds NUL."""
    if isinstance(value, str):
        return path or "body" if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                return here.replace(NUL, "")
            found = _in_json(item, here)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _in_json(item, f"{path or 'body'}[{index}]")
            if found:
                return found
    return None


def _in_body(kind: str, body: bytes) -> str | None:
    if kind == _JSON:
        if not any(sign in body for sign in _JSON_SIGNS):
            return None
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            return None  # the handler says what is wrong with it
        return _in_json(document, "")
    if not any(sign in body.lower() for sign in _FORM_SIGNS):
        return None
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=1000)
    except (UnicodeDecodeError, ValueError):
        return None
    return _in_pairs(pairs, "")


def find_nul(request: web.Request, body: bytes | None) -> str | None:
    """Where the request carries NUL: a path part (by its route name), a query parameter,
    a form field or a JSON member; None when nowhere."""
    if NUL in request.path:
        names = [name for name, value in request.match_info.items() if NUL in value]
        return names[0] if names else "path"
    found = _in_pairs(request.query.items(), "")
    if found:
        return found
    if body is not None:
        return _in_body(request.content_type, body)
    return None


async def _in_multipart(request: web.Request) -> str | None:
    """A page's multipart form (a mail client's one-click unsubscribe may send one): read
    whole by aiohttp, which keeps it for the handler."""
    try:
        form = await request.post()
    except (UnicodeDecodeError, ValueError, LookupError) as exc:
        raise InvalidInput("The form could not be read. Please go back and try again.") from exc
    return _in_pairs(form.items(), "")


@web.middleware
async def text_guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Inside the error middleware, so the refusal has the one error shape (JSON or page)."""
    body = None
    kind = request.content_type
    if request.body_exists and kind in (_FORM, _JSON):
        body = await request.read()  # bounded by the application's client_max_size
    field = find_nul(request, body)
    # The API's one multipart route (the import upload) streams its file to disk and checks
    # its fields itself; pages' forms are small.
    if field is None and kind == _MULTIPART and not request.path.startswith(_API):
        field = await _in_multipart(request)
    if field is not None:
        raise refuse(field)
    return await handler(request)
