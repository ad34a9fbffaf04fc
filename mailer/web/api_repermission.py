"""The editor API for re-permission campaigns (routes in web/routes.py): draft with the
count, send confirming it, read the counts, close confirming the removal count."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web

from mailer.editorial import repermission
from mailer.errors import InvalidInput
from mailer.web import keys
from mailer.web.api import api_key_name, dumps_json, json_object, path_id, read_fields


def _who(request: web.Request) -> str:
    return f"api key {request[api_key_name]}"


def _confirmed(data: dict[str, Any]) -> int | None:
    confirmed: int | None = read_fields(data, {"confirm": int}, "confirmation")["confirm"]
    return confirmed


def _json(campaign: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(campaign, status=status, dumps=dumps_json)


async def create_campaign(request: web.Request) -> web.Response:
    data = await json_object(request)
    terms = repermission.check_terms(data.get("months"), data.get("days"))
    campaign = await repermission.create_campaign(
        request.app[keys.pool_key], request.app[keys.settings_key], terms,
        requested_by=_who(request),
    )  # fmt: skip
    campaign["confirm"] = {
        "method": "POST",
        "path": f"/api/v1/repermission/{campaign['campaign_id']}/send",
        "body": {"confirm": campaign["recipients"]},
    }
    return _json(campaign, 201)


async def get_campaign(request: web.Request) -> web.Response:
    pool = request.app[keys.pool_key]
    return _json(await repermission.get_campaign(pool, path_id(request, "campaign_id")))


async def send_campaign(request: web.Request) -> web.Response:
    """Now, or at `send_at` (ISO 8601 with an offset) when given."""
    campaign_id = path_id(request, "campaign_id")
    data = await json_object(request)
    fields = read_fields(data, {"confirm": int, "send_at": str}, "confirmation")
    pool = request.app[keys.pool_key]
    if fields["send_at"] is not None:
        await repermission.schedule_campaign(
            pool, campaign_id, confirm=fields["confirm"], send_at=_moment(fields["send_at"]),
            by=_who(request),
        )  # fmt: skip
        return web.json_response(await _summary(pool, campaign_id), status=202, dumps=dumps_json)
    queued = await repermission.send_campaign(
        pool, request.app[keys.settings_key], campaign_id, confirm=fields["confirm"],
        by=_who(request),
    )  # fmt: skip
    return web.json_response(
        {"campaign_id": campaign_id, "status": "open", "recipients": queued}, status=202
    )


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text) if len(text) <= 40 else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidInput(
            "invalid schedule", {"send_at": "ISO 8601 with an offset, e.g. 2027-01-05T09:00Z"}
        )
    return moment


async def _summary(pool: asyncpg.Pool, campaign_id: int) -> dict[str, Any]:
    found = await repermission.get_campaign(pool, campaign_id)
    return {k: found[k] for k in ("campaign_id", "status", "recipients", "send_at")}


async def remove_unanswered(request: web.Request) -> web.Response:
    campaign_id = path_id(request, "campaign_id")
    removed = await repermission.remove_unanswered(
        request.app[keys.pool_key], campaign_id,
        confirm=_confirmed(await json_object(request)), by=_who(request),
    )  # fmt: skip
    return web.json_response({"campaign_id": campaign_id, "status": "closed", "removed": removed})
