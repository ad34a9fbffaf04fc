"""The editor API under /api/v1: API-key authentication and JSON handlers."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from mailer import keys, mailings
from mailer.api_keys import authenticate
from mailer.errors import InvalidInput
from mailer.web.middleware import error_response

# Which API key made the request (its name), for handlers that record who did what.
api_key_name = web.RequestKey("api_key_name", str)


@web.middleware
async def require_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every API call carries `Authorization: Bearer <key>`; 401 otherwise."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    found = None
    if scheme.lower() == "bearer" and key:
        found = await authenticate(request.app[keys.pool_key], key.strip())
    if found is None:
        response = error_response(request, 401, "a valid API key is required")
        response.headers["WWW-Authenticate"] = 'Bearer realm="mailer"'
        return response
    request[api_key_name] = found[1]
    return await handler(request)


def _mailing_id(request: web.Request) -> int:
    text = request.match_info["mailing_id"]
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput("mailing id must be a positive integer", {"mailing_id": "not a number"})
    return int(text)


async def mailing_progress(request: web.Request) -> web.Response:
    progress = await mailings.progress(request.app[keys.pool_key], _mailing_id(request))
    return web.json_response(progress.as_json())


async def pause_mailing(request: web.Request) -> web.Response:
    pool = request.app[keys.pool_key]
    mailing_id = _mailing_id(request)
    await mailings.pause(pool, mailing_id)
    return web.json_response((await mailings.progress(pool, mailing_id)).as_json())


async def resume_mailing(request: web.Request) -> web.Response:
    pool = request.app[keys.pool_key]
    mailing_id = _mailing_id(request)
    await mailings.resume(pool, mailing_id)
    return web.json_response((await mailings.progress(pool, mailing_id)).as_json())


async def cancel_mailing(request: web.Request) -> web.Response:
    pool = request.app[keys.pool_key]
    mailing_id = _mailing_id(request)
    await mailings.cancel(pool, mailing_id)
    return web.json_response((await mailings.progress(pool, mailing_id)).as_json())


def create_api_app(parent: web.Application) -> web.Application:
    """The /api/v1 sub-application (routes in web/routes.py); shares the parent's state."""
    api = web.Application(middlewares=[require_api_key])
    api[keys.pool_key] = parent[keys.pool_key]
    api[keys.settings_key] = parent[keys.settings_key]
    api[keys.pages_key] = parent[keys.pages_key]
    return api
