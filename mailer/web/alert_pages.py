"""Public pages of alerts and corrections: the alerts-only unsubscribe link, and the web
version of an item that was sent, with its corrections and their dates."""

from __future__ import annotations

from aiohttp import web

from mailer.audience.alert_choice import stop_alerts
from mailer.audience.preferences import Subscriber, subscriber_from_link
from mailer.editorial import archive
from mailer.errors import NotFound
from mailer.i18n import N_
from mailer.numbers import whole_number
from mailer.tokens import Purpose
from mailer.web import keys
from mailer.web.archive import item_description
from mailer.web.forms import read_form
from mailer.web.preferences import _context, _links
from mailer.web.public import render
from mailer.web.sharing import page_meta


async def _subscriber(request: web.Request) -> Subscriber:
    return await subscriber_from_link(
        request.app[keys.pool_key],
        request.app[keys.signer_key],
        Purpose.UNSUBSCRIBE,
        request.match_info["token"],
    )


def _page(request: web.Request, subscriber: Subscriber, *, stopped: bool) -> web.Response:
    links = _links(request, subscriber)
    links["stop_alerts"] = f"/unsubscribe/alerts/{request.match_info['token']}"
    response = render(
        request,
        "web/alerts_stop.html",
        language=subscriber.locale,
        title=N_("Alerts stopped") if stopped else N_("Stop urgent alerts"),
        subscriber=subscriber,
        links=links,
        stopped=stopped,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def stop_alerts_page(request: web.Request) -> web.Response:
    """GET shows one button: link scanners must not change anything."""
    return _page(request, await _subscriber(request), stopped=False)


async def stop_alerts_post(request: web.Request) -> web.Response:
    """The button, and RFC 8058 one-click from an alert's List-Unsubscribe: alerts stop,
    digests go on. 200, no redirect."""
    subscriber = await _subscriber(request)
    form = await read_form(request)
    one_click = form.get("List-Unsubscribe") == "One-Click"
    source = "one-click alert unsubscribe" if one_click else "alert unsubscribe page"
    await stop_alerts(
        request.app[keys.pool_key],
        subscriber.subscriber_id,
        _context(request, source),
        one_click=one_click,
    )
    return _page(request, subscriber, stopped=True)


async def archived_item(request: web.Request) -> web.Response:
    """An item that went out in a digest or an alert, with its corrections."""
    text = request.match_info["item_id"]
    pool = request.app[keys.pool_key]
    item_id = whole_number(text)
    item = await archive.archived_item(pool, item_id) if item_id is not None else None
    if item is None or not item["mailings"]:
        raise NotFound("No item we sent has this address.")
    corrections = await archive.corrections_of_item(pool, item["item_id"])
    retracted = any(c["kind"] == "retraction" for c in corrections)
    settings = request.app[keys.settings_key]
    meta = page_meta(
        url=f"{settings.base_url}/archive/items/{item['item_id']}",
        title=item["title"],
        description="This item was retracted." if retracted else item_description(item),
        language=item["language"],
        image=None if retracted else item["image_url"],
        image_alt=item["image_alt"],
        published=item["published_at"],
    )
    return render(
        request,
        "web/archived_item.html",
        title=item["title"],
        item=item,
        corrections=corrections,
        retracted=retracted,
        meta=meta,
        indexable=not retracted,
    )
