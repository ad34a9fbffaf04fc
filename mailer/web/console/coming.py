"""Sections not built yet: an honest placeholder page (admin-only, as the real ones will be)."""

from __future__ import annotations

from aiohttp import web

from mailer.web.console.page import render
from mailer.web.console.session import admin_only


def _coming(request: web.Request, section: str) -> web.Response:
    return render(request, "console/coming.html", title=section, section_name=section)


@admin_only
async def subscribers(request: web.Request) -> web.StreamResponse:
    return _coming(request, "Subscribers")


@admin_only
async def feeds(request: web.Request) -> web.StreamResponse:
    return _coming(request, "Feeds")


@admin_only
async def topics(request: web.Request) -> web.StreamResponse:
    return _coming(request, "Topics")


@admin_only
async def series(request: web.Request) -> web.StreamResponse:
    return _coming(request, "Series")


@admin_only
async def api_keys(request: web.Request) -> web.StreamResponse:
    return _coming(request, "API keys")


@admin_only
async def editors(request: web.Request) -> web.StreamResponse:
    return _coming(request, "Editors")
