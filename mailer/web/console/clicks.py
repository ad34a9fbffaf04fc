"""Clicks: which stories readers opened, per mailing (items ranked, topics, days) and per
item (across digests, alerts and corrections), with CSV downloads. Aggregate counts only:
nothing here (or anywhere) says who clicked."""

from __future__ import annotations

from datetime import date, timedelta

from aiohttp import web

from mailer.feedback import click_reports
from mailer.web import keys
from mailer.web.api import path_id
from mailer.web.api_clicks import item_csv, mailing_csv, publisher_of
from mailer.web.console import charts
from mailer.web.console.page import render


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/clicks", clicks_page)
    r.add_get("/clicks/mailings/{mailing_id}", mailing_page)
    r.add_get("/clicks/mailings/{mailing_id}/export.csv", mailing_csv)
    r.add_get("/clicks/items/{item_id}", item_page)
    r.add_get("/clicks/items/{item_id}/export.csv", item_csv)


def _day_chart(days: list[dict[str, object]]) -> charts.Chart:
    """Readers' clicks per day, from the first day with a count to the last (gaps as 0)."""
    if not days:
        return charts.bar_chart([], [])
    by_day = {date.fromisoformat(str(d["day"])): int(str(d["clicks"])) for d in days}
    first, last = min(by_day), max(by_day)
    span = [first + timedelta(days=i) for i in range((last - first).days + 1)][-60:]
    return charts.bar_chart(span, [by_day.get(d, 0) for d in span])


async def clicks_page(request: web.Request) -> web.StreamResponse:
    publisher = publisher_of(request)
    found = await click_reports.list_mailings(request.app[keys.pool_key], publisher, limit=100)
    return render(
        request, "console/clicks.html", title="Clicks", mailings=found, noise=publisher.describe()
    )


async def mailing_page(request: web.Request) -> web.StreamResponse:
    report = await click_reports.mailing_report(
        request.app[keys.pool_key], publisher_of(request), path_id(request, "mailing_id")
    )
    return render(
        request,
        "console/clicks_mailing.html",
        title=f"Clicks: {report['subject']}",
        report=report,
        chart=_day_chart(report["days"]),
    )


async def item_page(request: web.Request) -> web.StreamResponse:
    report = await click_reports.item_report(
        request.app[keys.pool_key], publisher_of(request), path_id(request, "item_id")
    )
    return render(
        request,
        "console/clicks_item.html",
        title=f"Clicks: {report['title']}",
        report=report,
        chart=_day_chart(report["days"]),
    )
