"""`/r/{token}`: the redirect of an item link in mail; counts the click, keeps no one.

The token is signed and carries the mailing, the item and the target, never the reader; the
target comes only from a token we made, so this is no open redirect. What is read of the
request (method, User-Agent, client address) only classifies the click (scanners.py) and
is then dropped: no cookie is set, no row per request is written, nothing is logged but the
route's pattern (the access log never has the token)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import quote

from aiohttp import web

from mailer.errors import NotFound
from mailer.feedback.clicks import ClickCounter, Requester
from mailer.i18n import N_, from_accept_language, translations
from mailer.limits import client_ip
from mailer.tokens import InvalidToken
from mailer.web import keys

BAD_LINK = N_(
    "This link is not valid: it may have been cut short or changed. Copy the whole link from "
    "the mail, or find the story in our archive."
)
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
# Characters a URL may carry as they are; anything else (non-ASCII, spaces, controls) is
# percent-encoded, so the Location header is plain ASCII and an encoded URL stays as it is.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%"


async def follow(request: web.Request) -> web.StreamResponse:
    """302 to the link's target after counting the click (GET and HEAD); 404 for a token
    we did not make (tampered, truncated, or signed with a key no longer listed)."""
    app = request.app
    counter = app[keys.clicks_key]
    try:
        mailing_id, item_id, url = counter.tokens.read(request.match_info["token"])
    except InvalidToken:
        raise _bad_link(request) from None
    if not url.startswith(("https://", "http://")):  # never made so; refused all the same
        raise _bad_link(request)
    await counter.count(
        mailing_id,
        item_id,
        url,
        Requester(
            method=request.method,
            user_agent=request.headers.get("User-Agent", ""),
            client=client_ip(request, app[keys.settings_key]),
        ),
    )
    location = url if url.isascii() and url.isprintable() else quote(url, safe=_URL_SAFE)
    return web.Response(status=302, headers={"Location": location, **_NO_STORE})


def _bad_link(request: web.Request) -> NotFound:
    language = from_accept_language(request.headers.get("Accept-Language"))
    return NotFound(translations(language).gettext(BAD_LINK))


def counting(app: web.Application) -> None:
    """Give the app its click counter, flushed every second while the app runs."""
    settings = app[keys.settings_key]
    counter = ClickCounter(
        app[keys.pool_key], app[keys.signer_key], scanner_seconds=settings.clicks.scanner_seconds
    )
    app[keys.clicks_key] = counter

    async def flushing(_: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(counter.run(stop))
        yield
        stop.set()
        await task  # the last second's counts are written before the pool closes

    app.cleanup_ctx.append(flushing)
