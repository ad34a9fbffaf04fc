"""Sections not built yet: an honest placeholder page (admin-only, as the real ones will be)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from mailer.web.console.page import render
from mailer.web.console.session import admin_only

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _coming(section: str) -> Handler:
    @admin_only
    async def page(request: web.Request) -> web.StreamResponse:
        return render(request, "console/coming.html", title=section, section_name=section)

    return page


subscribers = _coming("Subscribers")
feeds = _coming("Feeds")
topics = _coming("Topics")
series = _coming("Series")
api_keys = _coming("API keys")
editors = _coming("Editors")
