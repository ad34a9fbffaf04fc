"""The dashboard: what is scheduled, what was sent, how the lists grow."""

from __future__ import annotations

from aiohttp import web

from mailer.web.console.page import render


async def dashboard(request: web.Request) -> web.StreamResponse:
    return render(request, "console/dashboard.html", title="Dashboard")
