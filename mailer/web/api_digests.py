"""The editor API for series and digests (routes in web/routes.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from mailer.db import record_json
from mailer.delivery import mailings
from mailer.editorial import digests, series
from mailer.errors import InvalidInput
from mailer.feedback.deliverability import mailing_rates
from mailer.i18n import languages
from mailer.web import keys
from mailer.web.api import ListOf, Spec, admin_key, dumps_json, json_object, path_id, read_fields
from mailer.web.middleware import MAIL_PREVIEW_CSP


def _now() -> datetime:
    return datetime.now(UTC)


_SERIES: Spec = {
    "name": str,
    "description": str,
    "cron": str,
    "timezone": str,
    "mode": str,
    "is_default": bool,
}


async def list_series(request: web.Request) -> web.Response:
    found = await series.list_series(request.app[keys.pool_key])
    return web.json_response({"series": found}, dumps=dumps_json)


@admin_key
async def create_series(request: web.Request) -> web.Response:
    data = await json_object(request)
    fields = read_fields(data, {**_SERIES, "slug": str}, "series")
    missing = {k: "required" for k in ("name", "cron", "timezone") if not fields[k]}
    if missing:
        raise InvalidInput("invalid series", missing)
    created = await series.create_series(
        request.app[keys.pool_key],
        name=fields["name"],
        cron=fields["cron"],
        timezone=fields["timezone"],
        now=_now(),
        slug=fields["slug"],
        description=fields["description"] or "",
        mode=fields["mode"] or "draft",
        is_default=bool(fields["is_default"]),
    )
    return web.json_response(created, status=201, dumps=dumps_json)


@admin_key
async def update_series(request: web.Request) -> web.Response:
    data = await json_object(request)
    fields = read_fields(data, {**_SERIES, "active": bool}, "series")
    updated = await series.update_series(
        request.app[keys.pool_key], path_id(request, "series_id"), now=_now(), **fields
    )
    return web.json_response(updated, dumps=dumps_json)


@admin_key
async def delete_series(request: web.Request) -> web.Response:
    """204; 409 while the series has a digest that is a draft, scheduled or sending."""
    await series.delete_series(request.app[keys.pool_key], path_id(request, "series_id"))
    return web.Response(status=204)


async def list_digests(request: web.Request) -> web.Response:
    status = request.query.get("status") or None
    rows = await digests.list_digests(request.app[keys.pool_key], status)
    return web.json_response({"digests": [record_json(r) for r in rows]}, dumps=dumps_json)


async def create_digest(request: web.Request) -> web.Response:
    fields = read_fields(await json_object(request), {"series_id": int, "subject": str}, "digest")
    series_id = fields["series_id"]
    if series_id is None:
        raise InvalidInput("invalid digest", {"series_id": "required: the series' id"})
    mailing_id = await digests.create_digest(
        request.app[keys.pool_key],
        request.app[keys.settings_key],
        series_id,
        now=_now(),
        subject=fields["subject"],
    )
    return await _digest(request, mailing_id or 0, status=201)


async def _digest(request: web.Request, mailing_id: int, status: int = 200) -> web.Response:
    row = await digests.get_digest(request.app[keys.pool_key], mailing_id)
    if row is None:
        raise web.HTTPNotFound(text=f"digest {mailing_id} does not exist")
    return web.json_response(record_json(row), status=status, dumps=dumps_json)


async def get_digest(request: web.Request) -> web.Response:
    return await _digest(request, path_id(request, "mailing_id"))


async def edit_digest(request: web.Request) -> web.Response:
    fields = read_fields(
        await json_object(request),
        {"subject": str, "intro_md": str, "items": ListOf(int), "texts": dict, "grouping": str},
        "digest",
    )
    mailing_id = path_id(request, "mailing_id")
    await digests.edit_digest(
        request.app[keys.pool_key],
        request.app[keys.settings_key],
        mailing_id,
        subject=fields["subject"],
        intro_md=fields["intro_md"],
        item_ids=fields["items"],
        texts=fields["texts"],
        grouping=fields["grouping"],
    )
    return await _digest(request, mailing_id)


async def schedule_digest(request: web.Request) -> web.Response:
    data = await json_object(request)
    text = data.get("send_at")
    try:
        send_at: datetime | None = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        send_at = None
    if send_at is None or send_at.tzinfo is None:
        example = "an ISO 8601 time with its zone, e.g. 2026-12-01T14:00Z"
        raise InvalidInput("invalid schedule", {"send_at": example})
    mailing_id = path_id(request, "mailing_id")
    await digests.schedule(
        request.app[keys.pool_key], request.app[keys.settings_key], mailing_id, send_at, now=_now()
    )
    return await _digest(request, mailing_id)


async def send_now(request: web.Request) -> web.Response:
    mailing_id = path_id(request, "mailing_id")
    recipients = await digests.start(
        request.app[keys.pool_key], request.app[keys.settings_key], mailing_id
    )
    response = await _digest(request, mailing_id)
    response.headers["Mailer-Recipients"] = str(recipients)
    return response


async def cancel_digest(request: web.Request) -> web.Response:
    mailing_id = path_id(request, "mailing_id")
    await mailings.cancel(request.app[keys.pool_key], mailing_id)
    return await _digest(request, mailing_id)


async def preview_digest(request: web.Request) -> web.Response:
    result = await digests.preview(
        request.app[keys.pool_key],
        request.app[keys.settings_key],
        path_id(request, "mailing_id"),
        subscriber=request.query.get("subscriber") or None,
        language=_language(request),
    )
    return preview_response(request, result)


def _language(request: web.Request) -> str | None:
    """?language=es: the preview as a reader of that language (400 for one not offered)."""
    asked = request.query.get("language") or None
    if asked is not None and asked not in languages():
        raise InvalidInput("invalid preview", {"language": f"one of {', '.join(languages())}"})
    return asked


def preview_response(request: web.Request, result: dict[str, Any]) -> web.Response:
    """A preview as ?format=html (sandboxed), text, or json (the default)."""
    wanted = request.query.get("format", "json")
    if wanted == "html":
        response = web.Response(text=result["html"], content_type="text/html")
        response.headers["Content-Security-Policy"] = MAIL_PREVIEW_CSP
        return response
    if wanted == "text":
        return web.Response(text=result["text"], content_type="text/plain")
    return web.json_response(result)


async def test_send(request: web.Request) -> web.Response:
    data = await json_object(request)
    addresses = data.get("addresses")
    if not isinstance(addresses, list):
        raise InvalidInput("invalid test send", {"addresses": "a list of 1 to 10 addresses"})
    queued = await digests.test_send(
        request.app[keys.pool_key],
        request.app[keys.settings_key],
        path_id(request, "mailing_id"),
        [str(a) for a in addresses],
    )
    return web.json_response({"queued": len(queued)}, status=202)


async def digest_stats(request: web.Request) -> web.Response:
    """Delivery progress, plus bounce and complaint rates."""
    pool = request.app[keys.pool_key]
    mailing_id = path_id(request, "mailing_id")
    progress = await mailings.progress(pool, mailing_id)
    rates = await mailing_rates(pool, mailing_ids=[mailing_id])
    return web.json_response(
        {**progress.as_json(), "deliverability": rates[0].as_json() if rates else None}
    )
