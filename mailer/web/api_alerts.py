"""The editor API for alerts, corrections and item audits (routes in web/routes.py)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

import asyncpg
from aiohttp import web

from mailer.config import Settings
from mailer.delivery import mailings
from mailer.editorial import alerts, corrections
from mailer.editorial.item_audit import audit
from mailer.editorial.notices import Draft, preview
from mailer.errors import Conflict, InvalidInput
from mailer.numbers import whole_number
from mailer.web import keys
from mailer.web.api import api_key_name, dumps_json, json_object, path_id, read_fields
from mailer.web.api_digests import preview_response


class Confirm(Protocol):
    def __call__(
        self, pool: asyncpg.Pool, settings: Settings, notice_id: int, /, *, confirmed: int | None,
        confirmed_by: str,
    ) -> Awaitable[int]: ...  # fmt: skip


def _who(request: web.Request) -> str:
    return f"api key {request[api_key_name]}"


def _draft(draft: Draft, what: str, plural: str) -> web.Response:
    body: dict[str, Any] = draft.as_json(what)
    if draft.mailing_id is not None:
        body["confirm"] = {
            "method": "POST",
            "path": f"/api/v1/{plural}/{draft.notice_id}/send",
            "body": {"confirm": draft.recipients},
        }
    return web.json_response(body, status=201 if draft.created else 200)


def _confirmed(data: dict[str, Any]) -> int | None:
    confirmed: int | None = read_fields(data, {"confirm": int}, "confirmation")["confirm"]
    return confirmed


# ------------------------------------------------------------------------------ alerts


async def list_alerts(request: web.Request) -> web.Response:
    found = await alerts.list_alerts(
        request.app[keys.pool_key], status=request.query.get("status") or None
    )
    return web.json_response({"alerts": found}, dumps=dumps_json)


async def create_alert(request: web.Request) -> web.Response:
    fields = read_fields(await json_object(request), {"item_id": int}, "alert")
    if fields["item_id"] is None:
        raise InvalidInput("invalid alert", {"item_id": "required: the item to send"})
    draft = await alerts.create(
        request.app[keys.pool_key],
        request.app[keys.settings_key],
        fields["item_id"],
        requested_by=_who(request),
    )
    return _draft(draft, "alert", "alerts")


async def get_alert(request: web.Request) -> web.Response:
    pool = request.app[keys.pool_key]
    found = await alerts.get_alert(pool, path_id(request, "alert_id"))
    progress = await mailings.progress(pool, found["alert_id"])
    return web.json_response(found | {"progress": progress.as_json()}, dumps=dumps_json)


async def _send(request: web.Request, what: str, confirm: Confirm) -> web.Response:
    notice_id = path_id(request, f"{what}_id")
    made = await confirm(
        request.app[keys.pool_key],
        request.app[keys.settings_key],
        notice_id,
        confirmed=_confirmed(await json_object(request)),
        confirmed_by=_who(request),
    )
    return web.json_response(
        {f"{what}_id": notice_id, "status": "sending", "recipients": made}, status=202
    )


async def send_alert(request: web.Request) -> web.Response:
    return await _send(request, "alert", alerts.confirm)


async def cancel_alert(request: web.Request) -> web.Response:
    pool = request.app[keys.pool_key]
    alert_id = path_id(request, "alert_id")
    await alerts.get_alert(pool, alert_id)  # 404 for anything that is not an alert
    await mailings.cancel(pool, alert_id)
    return web.json_response(await alerts.get_alert(pool, alert_id), dumps=dumps_json)


async def preview_alert(request: web.Request) -> web.Response:
    settings = request.app[keys.settings_key]
    body = await alerts.current_content(
        request.app[keys.pool_key], settings, path_id(request, "alert_id")
    )
    return preview_response(
        request, await preview(request.app[keys.pool_key], settings, alerts.KIND, body)
    )


# ------------------------------------------------------------------------------ corrections


async def create_correction(request: web.Request) -> web.Response:
    fields = read_fields(
        await json_object(request),
        {"note": str, "retract": bool, "title": str, "summary_html": str},
        "correction",
    )
    if not fields["note"]:
        raise InvalidInput("invalid correction", {"note": "required: what changed and why"})
    change = corrections.Change(
        fields["note"], bool(fields["retract"]), fields["title"], fields["summary_html"]
    )
    draft = await corrections.correct(
        request.app[keys.pool_key],
        request.app[keys.settings_key],
        path_id(request, "item_id"),
        change,
        requested_by=_who(request),
    )
    return _draft(draft, "correction", "corrections")


async def list_corrections(request: web.Request) -> web.Response:
    item = request.query.get("item")
    if item is not None and whole_number(item) is None:
        raise InvalidInput("invalid item", {"item": "a positive integer"})
    found = await corrections.list_corrections(
        request.app[keys.pool_key],
        item_id=int(item) if item else None,
        status=request.query.get("status") or None,
    )
    return web.json_response({"corrections": found}, dumps=dumps_json)


async def get_correction(request: web.Request) -> web.Response:
    found = await corrections.get_correction(
        request.app[keys.pool_key], path_id(request, "correction_id")
    )
    return web.json_response(found, dumps=dumps_json)


async def send_correction(request: web.Request) -> web.Response:
    return await _send(request, "correction", corrections.confirm)


async def cancel_correction(request: web.Request) -> web.Response:
    pool = request.app[keys.pool_key]
    correction_id = path_id(request, "correction_id")
    found = await corrections.get_correction(pool, correction_id)
    if found["mailing_id"] is None:
        raise Conflict(f"correction {correction_id} has no notice to cancel")
    await mailings.cancel(pool, found["mailing_id"])
    updated = await corrections.get_correction(pool, correction_id)
    return web.json_response(updated, dumps=dumps_json)


async def preview_correction(request: web.Request) -> web.Response:
    settings = request.app[keys.settings_key]
    body = await corrections.notice_content(
        request.app[keys.pool_key], path_id(request, "correction_id")
    )
    return preview_response(
        request, await preview(request.app[keys.pool_key], settings, corrections.KIND, body)
    )


# ------------------------------------------------------------------------------ audit


async def item_audit(request: web.Request) -> web.Response:
    report = await audit(
        request.app[keys.pool_key],
        path_id(request, "item_id"),
        request.app[keys.settings_key].base_url,
    )
    return web.json_response(report, dumps=dumps_json)
