"""The front page (in development: where to start, and a path to try), the site's icon, and
the demo feed a development instance serves to its own feed reader."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from aiohttp import web

from mailer.demo.content import demo_feed
from mailer.demo.seed import demo_anchor, demo_state
from mailer.resources import static_dir
from mailer.web import keys
from mailer.web.public import render


@cache
def _favicon() -> bytes:
    return (static_dir() / "favicon.ico").read_bytes()


async def favicon(request: web.Request) -> web.Response:
    """The icon every browser asks for at /favicon.ico (a page's tab, bookmarks): a small
    envelope, rather than a 404 on every page load."""
    response = web.Response(body=_favicon(), content_type="image/x-icon")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


async def start_page(request: web.Request) -> web.Response:
    settings = request.app[keys.settings_key]
    if settings.is_production:
        return render(request, "web/start.html", title=settings.organisation, development=False)
    return render(
        request,
        "web/start.html",
        title=settings.organisation,
        development=True,
        demo=await demo_state(request.app[keys.pool_key]),
        demo_on=settings.demo,
    )


async def demo_feed_xml(request: web.Request) -> web.Response:
    """The bundled fictional feed, dated from the moment the demo was seeded (from today's
    midnight if it never was), so a poll of an unchanged feed finds the same bytes."""
    anchor = await demo_anchor(request.app[keys.pool_key])
    if anchor is None:
        anchor = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    response = web.Response(
        body=demo_feed(anchor), content_type="application/rss+xml", charset="utf-8"
    )
    response.headers["Cache-Control"] = "no-cache"
    return response
