"""The live sending view: progress, rate, ETA; pause, resume, cancel. Updates arrive as
server-sent events; without scripts the page refreshes itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from aiohttp import web

from mailer.delivery import mailings
from mailer.delivery.mailings import Progress
from mailer.models import MailingStatus
from mailer.web import keys
from mailer.web.api import path_id
from mailer.web.console.page import render
from mailer.web.console.schedule_form import editor_zone

FINAL = (MailingStatus.SENT, MailingStatus.CANCELLED)
STREAM_SECONDS = 300.0  # a stream ends after this; EventSource reconnects by itself
MIN_INTERVAL = 1.0

stopping_key = web.AppKey("console_stopping", asyncio.Event)


def add_routes(app: web.Application) -> None:
    app[stopping_key] = asyncio.Event()
    app.on_shutdown.append(_stop_streams)
    r = app.router
    r.add_get("/mailings/{mailing_id}", sending_page)
    r.add_get("/mailings/{mailing_id}/events", progress_events)
    r.add_post("/mailings/{mailing_id}/pause", pause)
    r.add_post("/mailings/{mailing_id}/resume", resume)
    r.add_post("/mailings/{mailing_id}/cancel", cancel)


async def _stop_streams(app: web.Application) -> None:
    app[stopping_key].set()  # open streams end, so shutdown need not wait for them


def view(p: Progress) -> dict[str, Any]:
    """Progress as the page shows it (and as each event carries it)."""
    data = p.as_json()
    final = p.status in FINAL
    # Nothing fanned out yet (scheduled) is 0 %; a send with nobody to mail is over: 100 %.
    data["percent"] = round(100 * p.done / p.total, 1) if p.total else (100.0 if final else 0.0)
    data["final"] = final
    # Every mail is over but the tick that marks the mailing sent has not run yet: it is
    # finishing, and there is nothing left to pause or cancel.
    if p.status == MailingStatus.SENDING and p.total and p.done == p.total:
        data["status"] = "finishing"
    return data


async def sending_page(request: web.Request) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    mailing_id = path_id(request, "mailing_id")
    current = await mailings.progress(pool, mailing_id)
    mailing = await mailings.get_mailing(pool, mailing_id)
    assert mailing is not None  # progress() found it
    return render(
        request,
        "console/sending.html",
        title=f"Sending: {mailing['subject']}",
        mailing=mailing,
        p=view(current),
        initial=json.dumps(view(current)),
        zone=editor_zone(request),
    )


async def progress_events(request: web.Request) -> web.StreamResponse:
    """text/event-stream of `progress` events until the mailing is over (or a while)."""
    pool = request.app[keys.pool_key]
    mailing_id = path_id(request, "mailing_id")
    first = await mailings.progress(pool, mailing_id)  # 404 before the stream starts
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # proxies must pass events at once
        }
    )
    await response.prepare(request)
    stopping = request.app[stopping_key]
    deadline = time.monotonic() + STREAM_SECONDS
    current: Progress | None = first
    while True:
        started = time.monotonic()
        if current is None:
            current = await mailings.progress(pool, mailing_id)
        cost = time.monotonic() - started
        payload = json.dumps(view(current))
        try:
            await response.write(f"event: progress\ndata: {payload}\n\n".encode())
        except (ConnectionResetError, RuntimeError):
            break  # the browser went away
        if current.status in FINAL or time.monotonic() > deadline:
            break
        current = None
        # Counting a large mailing costs time: spend at most a third of it counting.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), max(MIN_INTERVAL, 2 * cost))
        if stopping.is_set():
            break
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await response.write_eof()
    return response


def _back(mailing_id: int) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/console/mailings/{mailing_id}")


async def pause(request: web.Request) -> web.StreamResponse:
    mailing_id = path_id(request, "mailing_id")
    await mailings.pause(request.app[keys.pool_key], mailing_id)
    raise _back(mailing_id)


async def resume(request: web.Request) -> web.StreamResponse:
    mailing_id = path_id(request, "mailing_id")
    await mailings.resume(request.app[keys.pool_key], mailing_id)
    raise _back(mailing_id)


async def cancel(request: web.Request) -> web.StreamResponse:
    mailing_id = path_id(request, "mailing_id")
    await mailings.cancel(request.app[keys.pool_key], mailing_id)
    raise _back(mailing_id)
