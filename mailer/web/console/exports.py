"""The subscriber export (admin): CSV or JSON Lines of the list (optionally one status or
topic), streamed from a server-side cursor as the API's export is."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from mailer.imports.export import export_subscribers, parse_format
from mailer.web import keys
from mailer.web.console.session import admin_only


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/export/subscribers", export_page)


@admin_only
async def export_page(request: web.Request) -> web.StreamResponse:
    fmt = parse_format(request.query.get("format") or "csv")
    pieces = await export_subscribers(
        request.app[keys.pool_key],
        fmt,
        status=request.query.get("status") or None,
        topic=request.query.get("topic") or None,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    response = web.StreamResponse(
        headers={
            "Content-Type": f"{fmt.content_type}; charset=utf-8",
            "Content-Disposition": f'attachment; filename="subscribers-{stamp}.{fmt.value}"',
            "Cache-Control": "no-store",
        }
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    async for piece in pieces:
        await response.write(piece)
    await response.write_eof()
    return response
