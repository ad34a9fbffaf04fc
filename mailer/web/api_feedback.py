"""Editor API for suppressions, bounces and reports, deliverability rates, and outbound
webhook endpoints (routes in web/routes.py, described in OPENAPI_PATHS below)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mailer.db import record_json
from mailer.errors import InvalidInput
from mailer.feedback import hooks, reports, suppressions
from mailer.feedback.deliverability import overview
from mailer.numbers import whole_number
from mailer.web import keys
from mailer.web.api import (
    ListOf,
    Spec,
    admin_key,
    api_key_name,
    dumps_json,
    json_object,
    path_id,
    read_fields,
    spec_schema,
)
from mailer.web.openapi_schema import S, op

REPORT_STATUSES = ("processed", "ignored", "unmatched", "unparseable", "refused")


def _query_int(request: web.Request, name: str, default: int | None, high: int) -> int | None:
    text = request.query.get(name)
    if not text:
        return default
    number = whole_number(text)
    if number is None or number < 1:
        raise InvalidInput(f"invalid {name}", {name: "a positive integer"})
    return min(number, high)


def _choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query.get(name) or None
    if value is not None and value not in allowed:
        raise InvalidInput(f"invalid {name}", {name: f"one of {', '.join(allowed)}"})
    return value


def _email(data: dict[str, Any]) -> str:
    email = data.get("email")
    if not isinstance(email, str) or "@" not in email or len(email) > 320:
        raise InvalidInput("an address is required", {"email": "required"})
    return email.strip()


# ------------------------------------------------------------------ suppressions


async def list_suppressions(request: web.Request) -> web.Response:
    found, cursor = await suppressions.list_suppressions(
        request.app[keys.pool_key],
        reason=request.query.get("reason") or None,
        cursor=request.query.get("cursor") or None,
        limit=_query_int(request, "limit", 50, 500) or 50,
    )
    return web.json_response({"suppressions": found, "next_cursor": cursor})


@admin_key
async def add_suppression(request: web.Request) -> web.Response:
    data = await json_object(request)
    fields = read_fields(data, {"detail": str}, "suppression")
    await suppressions.add(
        request.app[keys.pool_key],
        _email(data),
        detail=(fields["detail"] or "")[:500],
        by=f"editor ({request[api_key_name]})",
    )
    return web.json_response({"status": "suppressed"}, status=201)


@admin_key
async def lift_suppression(request: web.Request) -> web.Response:
    lifted = await suppressions.lift(
        request.app[keys.pool_key],
        _email(await json_object(request)),
        by=f"editor ({request[api_key_name]})",
    )
    return web.json_response(lifted)


# ------------------------------------------------------------------ bounces and reports


async def list_bounces(request: web.Request) -> web.Response:
    found = await reports.list_bounces(
        request.app[keys.pool_key],
        subscriber_id=_query_int(request, "subscriber", None, 2**62),
        mailing_id=_query_int(request, "mailing", None, 2**62),
        kind=_choice(request, "kind", ("hard", "soft", "block", "complaint")),
        before=_query_int(request, "before", None, 2**62),
        limit=_query_int(request, "limit", 50, 500) or 50,
    )
    return web.json_response({"bounces": found}, dumps=dumps_json)


async def list_reports(request: web.Request) -> web.Response:
    """Reports newest first; `?status=unparseable` (or unmatched, refused) for what needs
    a human."""
    rows = await reports.list_reports(
        request.app[keys.pool_key],
        status=_choice(request, "status", REPORT_STATUSES),
        before=_query_int(request, "before", None, 2**62),
        limit=_query_int(request, "limit", 50, 500) or 50,
    )
    return web.json_response({"reports": [record_json(r) for r in rows]}, dumps=dumps_json)


async def get_report(request: web.Request) -> web.Response:
    report_id = path_id(request, "report_id")
    data = await reports.get_report(request.app[keys.pool_key], report_id)
    return web.json_response(data, dumps=dumps_json)


async def deliverability(request: web.Request) -> web.Response:
    days = _query_int(request, "days", 30, 3650) or 30
    data = await overview(request.app[keys.pool_key], request.app[keys.settings_key].bounces, days)
    return web.json_response(data, dumps=dumps_json)


# ------------------------------------------------------------------ outbound webhooks

_HOOK: Spec = {"url": str, "secret": str, "events": ListOf(str), "description": str, "active": bool}


@admin_key
async def list_hooks(request: web.Request) -> web.Response:
    found = await hooks.list_endpoints(request.app[keys.pool_key])
    return web.json_response({"hooks": found}, dumps=dumps_json)


@admin_key
async def create_hook(request: web.Request) -> web.Response:
    fields = read_fields(await json_object(request), _HOOK, "webhook endpoint")
    missing = {k: "required" for k in ("url", "events") if fields[k] is None}
    if missing:
        raise InvalidInput("invalid webhook endpoint", missing)
    created = await hooks.create_endpoint(
        request.app[keys.pool_key],
        request.app[keys.settings_key],
        url=fields["url"],
        event_types=fields["events"],
        secret=fields["secret"],
        description=fields["description"] or "",
    )
    return web.json_response(created, status=201, dumps=dumps_json)


@admin_key
async def get_hook(request: web.Request) -> web.Response:
    found = await hooks.list_endpoints(request.app[keys.pool_key], path_id(request, "endpoint_id"))
    return web.json_response(found[0], dumps=dumps_json)


@admin_key
async def update_hook(request: web.Request) -> web.Response:
    fields = read_fields(await json_object(request), _HOOK, "webhook endpoint")
    updated = await hooks.update_endpoint(
        request.app[keys.pool_key],
        request.app[keys.settings_key],
        path_id(request, "endpoint_id"),
        url=fields["url"],
        secret=fields["secret"],
        event_types=fields["events"],
        description=fields["description"],
        active=fields["active"],
    )
    return web.json_response(updated, dumps=dumps_json)


@admin_key
async def delete_hook(request: web.Request) -> web.Response:
    await hooks.delete_endpoint(request.app[keys.pool_key], path_id(request, "endpoint_id"))
    return web.Response(status=204)


@admin_key
async def hook_deliveries(request: web.Request) -> web.Response:
    found = await hooks.list_deliveries(
        request.app[keys.pool_key],
        path_id(request, "endpoint_id"),
        status=request.query.get("status") or None,
        before=_query_int(request, "before", None, 2**62),
        limit=_query_int(request, "limit", 50, 500) or 50,
    )
    return web.json_response({"deliveries": found}, dumps=dumps_json)


@admin_key
async def resend_delivery(request: web.Request) -> web.Response:
    queued = await hooks.resend(
        request.app[keys.pool_key],
        request.app[keys.settings_key],
        path_id(request, "endpoint_id"),
        path_id(request, "hook_delivery_id"),
    )
    return web.json_response({"queued": queued}, status=202)


@admin_key
async def resend_failed(request: web.Request) -> web.Response:
    queued = await hooks.resend(
        request.app[keys.pool_key],
        request.app[keys.settings_key],
        path_id(request, "endpoint_id"),
        all_failed=True,
    )
    return web.json_response({"queued": queued}, status=202)


# ------------------------------------------------------------------ OpenAPI


def openapi_paths() -> dict[str, dict[str, Any]]:
    """This module's part of the OpenAPI document (merged in web/openapi.py)."""

    hook = spec_schema(_HOOK)
    return {
        "/suppressions": {
            "get": op("List suppressions, newest first", query=("reason", "cursor", "limit")),
            "post": op("Suppress an address by hand", ok=201, body={"email": S, "detail": S}),
        },
        "/suppressions/lift": {
            "post": op("Lift an address's suppression", body={"email": S}),
        },
        "/bounces": {
            "get": op("Bounces and complaints, newest first",
                       query=("subscriber", "mailing", "kind", "before", "limit")),
        },
        "/bounces/reports": {
            "get": op("Received reports (DSN, ARF, webhook events), newest first",
                       query=("status", "before", "limit")),
        },
        "/bounces/reports/{report_id}": {
            "get": op("One report, with the raw message", params=("report_id",)),
        },
        "/deliverability": {
            "get": op("Bounce and complaint rates, overall and per mailing", query=("days",)),
        },
        "/hooks": {
            "get": op("List outbound webhook endpoints"),
            "post": op("Register an endpoint (the response shows its secret once)", ok=201,
                        body=hook),
        },
        "/hooks/{endpoint_id}": {
            "get": op("An endpoint with its delivery counts", params=("endpoint_id",)),
            "patch": op("Change, pause (active false) or resume an endpoint",
                         params=("endpoint_id",), body=hook),
            "delete": op("Remove an endpoint and its log", params=("endpoint_id",), ok=204),
        },
        "/hooks/{endpoint_id}/deliveries": {
            "get": op("The delivery log", params=("endpoint_id",),
                       query=("status", "before", "limit")),
        },
        "/hooks/{endpoint_id}/deliveries/{hook_delivery_id}/resend": {
            "post": op("Send a logged event again", ok=202,
                        params=("endpoint_id", "hook_delivery_id")),
        },
        "/hooks/{endpoint_id}/resend-failed": {
            "post": op("Send every given-up event again", ok=202, params=("endpoint_id",)),
        },
    }  # fmt: skip
