"""The editor API for click counts: per mailing, per item, CSV of both (figures as
published: exact, or with differential-privacy noise when MAILER_CLICK_EPSILON is set)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mailer.errors import InvalidInput
from mailer.feedback import click_reports
from mailer.numbers import whole_number
from mailer.web import keys
from mailer.web.api import dumps_json, path_id
from mailer.web.openapi_schema import file_op, op


def publisher_of(request: web.Request) -> click_reports.Publisher:
    """The figures as published (exact, or noised): the API's and the console's."""
    return click_reports.publisher(request.app[keys.settings_key])


def _limit(request: web.Request) -> int:
    text = request.query.get("limit")
    if not text:
        return 50
    number = whole_number(text)
    if number is None or number < 1:
        raise InvalidInput("invalid limit", {"limit": "a positive integer"})
    return min(number, 500)


async def list_mailings(request: web.Request) -> web.Response:
    """Sent digests, alerts and corrections, newest first, with their click totals."""
    publisher = publisher_of(request)
    found = await click_reports.list_mailings(
        request.app[keys.pool_key], publisher, limit=_limit(request)
    )
    return web.json_response({"mailings": found, "noise": publisher.describe()}, dumps=dumps_json)


async def mailing_clicks(request: web.Request) -> web.Response:
    report = await click_reports.mailing_report(
        request.app[keys.pool_key], publisher_of(request), path_id(request, "mailing_id")
    )
    return web.json_response(report, dumps=dumps_json)


async def item_clicks(request: web.Request) -> web.Response:
    report = await click_reports.item_report(
        request.app[keys.pool_key], publisher_of(request), path_id(request, "item_id")
    )
    return web.json_response(report, dumps=dumps_json)


def csv_response(text: str, name: str) -> web.Response:
    return web.Response(
        body=("\ufeff" + text).encode(),  # the BOM: spreadsheets then read UTF-8 as UTF-8
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


async def mailing_csv(request: web.Request) -> web.Response:
    mailing_id = path_id(request, "mailing_id")
    text = await click_reports.csv_rows(
        request.app[keys.pool_key], publisher_of(request), mailing_id=mailing_id
    )
    return csv_response(text, f"clicks-mailing-{mailing_id}.csv")


async def item_csv(request: web.Request) -> web.Response:
    item_id = path_id(request, "item_id")
    text = await click_reports.csv_rows(
        request.app[keys.pool_key], publisher_of(request), item_id=item_id
    )
    return csv_response(text, f"clicks-item-{item_id}.csv")


def add_routes(v1: web.UrlDispatcher) -> None:
    v1.add_get("/clicks", list_mailings)
    v1.add_get("/clicks/mailings/{mailing_id}", mailing_clicks)
    v1.add_get("/clicks/mailings/{mailing_id}/export", mailing_csv)
    v1.add_get("/clicks/items/{item_id}", item_clicks)
    v1.add_get("/clicks/items/{item_id}/export", item_csv)


def openapi_paths() -> dict[str, dict[str, Any]]:
    """This module's part of the OpenAPI document (merged in web/openapi.py)."""
    return {
        "/clicks": {
            "get": op("Sent digests, alerts and corrections with their click totals, newest "
                       "first", query=("limit",)),
        },
        "/clicks/mailings/{mailing_id}": {
            "get": op("A mailing's clicks: items ranked, per topic, per day (readers' clicks; "
                       "scanners' apart as filtered)", params=("mailing_id",)),
        },
        "/clicks/mailings/{mailing_id}/export": {
            "get": file_op("A mailing's clicks as CSV, one row per item, link and day",
                            params=("mailing_id",)),
        },
        "/clicks/items/{item_id}": {
            "get": op("An item's clicks across the digests, alerts and corrections that "
                       "carried it, and per day", params=("item_id",)),
        },
        "/clicks/items/{item_id}/export": {
            "get": file_op("An item's clicks as CSV, one row per mailing, link and day",
                            params=("item_id",)),
        },
    }  # fmt: skip
