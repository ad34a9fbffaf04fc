"""The dashboard: what is scheduled, what was sent, how the lists grow."""

from __future__ import annotations

from aiohttp import web

from mailer.editorial.overview import dashboard as dashboard_data
from mailer.web import keys
from mailer.web.console import charts
from mailer.web.console.page import render
from mailer.web.console.schedule_form import editor_zone

DAYS = 30


async def dashboard(request: web.Request) -> web.StreamResponse:
    zone = editor_zone(request)
    data = await dashboard_data(request.app[keys.pool_key], zone=zone, days=DAYS)
    growth = charts.line_chart(
        data.days, [(t["name"], [float(v) for v in t["history"]]) for t in data.topics]
    )
    return render(
        request,
        "console/dashboard.html",
        title="Dashboard",
        data=data,
        zone=zone,
        growth=growth,
        sends_chart=charts.bar_chart(data.days, data.sent_per_day),
        bounce_chart=charts.line_chart(
            data.days, [("Bounce rate", data.bounce_rate_per_day)], percent=True
        ),
    )
