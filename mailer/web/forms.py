"""Reading request bodies with a size limit and a clear error for each way they go wrong."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from multidict import MultiDictProxy

from mailer.errors import InvalidInput

MAX_WEBHOOK_BODY = 64 * 1024
# Bodies the text guard (mailer/web/text_guard.py) reads before the handler; aiohttp keeps
# them, so the handler reads them from memory rather than from the connection.
BUFFERED = ("application/json", "application/x-www-form-urlencoded")


class BodyProblem(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


async def read_limited(request: web.Request, limit: int = MAX_WEBHOOK_BODY) -> bytes:
    """The raw body, or BodyProblem(413) as soon as it exceeds `limit` (never buffered whole)."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyProblem(413, f"the body is larger than {limit // 1024} KB")
    if request.content_type in BUFFERED:  # the text guard has read it already
        body = await request.read()
        if len(body) > limit:
            raise BodyProblem(413, f"the body is larger than {limit // 1024} KB")
        return body
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(16 * 1024):
        size += len(chunk)
        if size > limit:
            raise BodyProblem(413, f"the body is larger than {limit // 1024} KB")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_body(request: web.Request, body: bytes) -> dict[str, Any]:
    """JSON or form-encoded into a dict (form: repeated `topics` fields become a list)."""
    kind = request.content_type
    if kind == "application/json":
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise BodyProblem(400, f"the body is not valid JSON: {exc}") from exc
        except RecursionError as exc:  # e.g. 30,000 nested brackets, well within 64 KB
            raise BodyProblem(400, "the body is not valid JSON: nested too deeply") from exc
        if not isinstance(data, dict):
            raise BodyProblem(400, "the body must be a JSON object")
        return data
    if kind == "application/x-www-form-urlencoded":
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
        except (UnicodeDecodeError, ValueError) as exc:
            raise BodyProblem(400, f"the form body cannot be read: {exc}") from exc
        return {key: values if key == "topics" else values[0] for key, values in fields.items()}
    raise BodyProblem(415, "send application/json or application/x-www-form-urlencoded")


async def read_form(
    request: web.Request,
) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The posted form of a page, or InvalidInput (400) when it cannot be read (bytes that
    are not UTF-8, say): aiohttp raises UnicodeDecodeError, which would be a 500."""
    try:
        return await request.post()
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("The form could not be read. Please go back and try again.") from exc
