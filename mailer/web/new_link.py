""" "Mail me a new link": the way out of every dead-end subscriber page (a lost, cut-short or
outdated personal link). The answer is the same whether or not the address is known."""

from __future__ import annotations

import math

from aiohttp import web
from email_validator import EmailNotValidError

from mailer.addresses import normalise_email
from mailer.audience.signup import mail_new_link
from mailer.limits import client_ip
from mailer.web import keys
from mailer.web.forms import BodyProblem, parse_body, read_limited
from mailer.web.middleware import error_response
from mailer.web.public import render

TITLE = "Get a new link"


async def new_link_page(request: web.Request) -> web.Response:
    return render(request, "web/new_link.html", title=TITLE, sent=False, errors={}, email="")


async def new_link_post(request: web.Request) -> web.Response:
    settings = request.app[keys.settings_key]
    limits = request.app[keys.limits_key]
    wait = limits.form_ip.hit(client_ip(request, settings))
    if wait:
        seconds = max(1, math.ceil(wait))
        response = error_response(
            request, 429, f"Too many requests from your network. Try again in {seconds} seconds."
        )
        response.headers["Retry-After"] = str(seconds)
        return response
    try:
        data = parse_body(request, await read_limited(request))
    except BodyProblem as problem:
        raise web.HTTPBadRequest(text=str(problem)) from None
    typed = str(data.get("email", ""))[:320].strip()
    try:
        email = normalise_email(typed)
    except (EmailNotValidError, ValueError):
        return render(
            request,
            "web/new_link.html",
            status=400,
            title=TITLE,
            sent=False,
            errors={"email": "Enter the address our mails reach, like name@example.org."},
            email=typed,
        )
    # Several asks for one address within the hour change nothing but cost a mail slot each:
    # the per-address window answers them as if they had been sent.
    if not limits.address.hit("new-link:" + email.casefold()):
        await mail_new_link(
            request.app[keys.pool_key], request.app[keys.signer_key], settings, email
        )
    response = render(
        request, "web/new_link.html", title="Check your inbox", sent=True, errors={}, email=email
    )
    response.headers["Cache-Control"] = "no-store"
    return response
