"""Signed webhooks from the website's back end: signups (and later content and bounces)."""

from __future__ import annotations

import math

from aiohttp import web

from mailer.audience.signup import sign_up
from mailer.audience.signup_input import parse_signup
from mailer.editorial.cms_notices import push_content
from mailer.errors import InvalidInput
from mailer.limits import client_ip
from mailer.signatures import HEADER, BadSignature, verify
from mailer.web import keys
from mailer.web.forms import BodyProblem, parse_body, read_limited
from mailer.web.middleware import error_response

MAX_CONTENT_BODY = 2 * 1024 * 1024  # a batch of items with their summaries
ACCEPTED = '{"status": "accepted"}'  # json_response's bytes for it, without encoding each time


def too_many(request: web.Request, retry_after: float) -> web.Response:
    response = error_response(request, 429, "too many signups; try again later")
    response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


async def signup(request: web.Request) -> web.Response:
    """POST /webhooks/signup: 202 for every valid request, whatever the address's state."""
    settings = request.app[keys.settings_key]
    limits = request.app[keys.limits_key]
    wait = limits.webhook_ip.hit(client_ip(request, settings))
    if wait:
        return too_many(request, wait)
    try:
        body = await read_limited(request)
        verify(request.headers.get(HEADER), body, settings.webhook_secrets)
        data = parse_body(request, body)
    except BodyProblem as problem:
        return error_response(request, problem.status, str(problem))
    except BadSignature as exc:
        return error_response(request, 401, str(exc))
    try:
        signup_request = parse_signup(data)
    except InvalidInput as exc:
        return error_response(request, 400, str(exc), exc.fields)
    wait = limits.address.hit(signup_request.email.casefold())
    if wait:
        return too_many(request, wait)
    await sign_up(
        request.app[keys.signups_key],
        request.app[keys.signer_key],
        signup_request,
        allow_hidden=True,
    )
    return web.Response(text=ACCEPTED, status=202, content_type="application/json")


async def content(request: web.Request) -> web.Response:
    """POST /webhooks/content: the CMS pushes items (upsert), or deletes or hides them;
    an item may be `urgent` (an alert) or carry a `correction` note."""
    settings = request.app[keys.settings_key]
    try:
        body = await read_limited(request, MAX_CONTENT_BODY)
        verify(request.headers.get(HEADER), body, settings.webhook_secrets)
        if request.content_type != "application/json":
            raise BodyProblem(415, "send application/json")
        data = parse_body(request, body)
    except BodyProblem as problem:
        return error_response(request, problem.status, str(problem))
    except BadSignature as exc:
        return error_response(request, 401, str(exc))
    outcome = await push_content(request.app[keys.pool_key], settings, data)
    return web.json_response(outcome, status=202)
