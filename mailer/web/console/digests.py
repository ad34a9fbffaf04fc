"""The digest composer: list, create for a series, order items (buttons, or drag with the
script), subject and Markdown intro with a live preview. Sending actions: digest_actions.py."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mailer.editorial import digests, series
from mailer.editorial.digest_languages import stored
from mailer.editorial.overview import candidate_items, digest_item_ids, items_in_order, list_digests
from mailer.errors import Conflict, InvalidInput
from mailer.i18n import DEFAULT, language_choices, languages
from mailer.models import MailingStatus
from mailer.numbers import whole_number
from mailer.web import keys
from mailer.web.api import path_id
from mailer.web.console import schedule_form
from mailer.web.console.page import render

_EDITABLE = (MailingStatus.DRAFT, MailingStatus.SCHEDULED)
_STATUSES = [s.value for s in MailingStatus]
# What each refused field is called on the page, so that "is in the past" says what is.
ERROR_LABELS = {
    "subject": "Subject",
    "intro_md": "Introduction",
    "items": "Items",
    "send_at": "Date and time",
    "timezone": "Time zone",
    "addresses": "Test addresses",
    "test_send": "Test send",
    "send_now": "Send now",
    "grouping": "Readers see the items",
    "restore": "Restore",
}


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/digests", digests_page)
    r.add_post("/digests", create_digest)
    r.add_post("/digests/intro-preview", intro_preview)
    r.add_get("/digests/{mailing_id}", composer_page)
    r.add_post("/digests/{mailing_id}", composer_save)


async def digests_page(request: web.Request) -> web.StreamResponse:
    pool = request.app[keys.pool_key]
    status = request.query.get("status") or None
    if status not in (None, *_STATUSES):
        status = None
    return render(
        request,
        "console/digests.html",
        title="Digests",
        digests=await list_digests(pool, status),
        series=await series.list_series(pool),
        statuses=_STATUSES,
        status_filter=status or "",
        zone=schedule_form.editor_zone(request),
    )


async def create_digest(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    series_id = whole_number(str(form.get("series_id", "")))
    if series_id is None:
        raise InvalidInput("choose a series", {"series_id": "choose the series of the digest"})
    subject = str(form.get("subject", "")).strip() or None
    mailing_id = await digests.create_digest(
        request.app[keys.pool_key],
        request.app[keys.settings_key],
        series_id,
        now=schedule_form.now(),
        subject=subject,
    )
    if mailing_id is None:  # only scheduled occurrences can collide; an editor's never do
        raise Conflict("that digest exists already")
    raise web.HTTPSeeOther(f"/console/digests/{mailing_id}?created=1")


async def _digest(request: web.Request, mailing_id: int) -> Any:
    row = await digests.get_digest(request.app[keys.pool_key], mailing_id)
    if row is None:
        raise web.HTTPNotFound(text=f"digest {mailing_id} does not exist")
    return row


async def composer_page(
    request: web.Request,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    typed: dict[str, str] | None = None,
) -> web.StreamResponse:
    """The composer; after a refused action, `typed` holds what the editor had typed in the
    action's form (schedule, test send), shown again rather than the defaults."""
    pool = request.app[keys.pool_key]
    mailing_id = path_id(request, "mailing_id")
    digest = dict(await _digest(request, mailing_id))
    if MailingStatus(digest["status"]) in (MailingStatus.SENDING, MailingStatus.PAUSED):
        raise web.HTTPSeeOther(f"/console/mailings/{mailing_id}")
    digest.update(values or {})
    order = digest.get("item_order") or await digest_item_ids(pool, mailing_id)
    zone = schedule_form.editor_zone(request)
    editable = MailingStatus(digest["status"]) in _EDITABLE
    notices = {
        "created": "Draft created from the feed's new items. Order them, write an intro, preview.",
        "saved": "Saved.",
        "tested": "Test mail queued: it arrives in a minute.",
        "scheduled": "Scheduled.",
        "cancelled": "Cancelled: it will not be sent. Restore it below if that was a mistake.",
        "restored": "Restored as a draft: schedule it again or send it when ready.",
    }
    return render(
        request,
        "console/composer.html",
        status=status,
        title=f"Digest: {digest['subject']}",
        digest=digest,
        editable=editable,
        # Who "Send now" would mail, said before it is pressed (never sent blind).
        recipients=await digests.count_recipients(pool, mailing_id) if editable else None,
        items=await items_in_order(pool, order),
        candidates=await candidate_items(pool, mailing_id, digest["series_id"]),
        intro_preview=digests.intro_html(digest["intro_md"]),
        other_languages=[c for c in language_choices() if c[0] != DEFAULT],
        digest_texts=digest.get("typed_texts") or stored(digest.get("texts")),
        errors=errors or {},
        notice=next((text for key, text in notices.items() if key in request.query), ""),
        schedule=schedule_form.context(request, digest, zone, typed),
        typed=typed or {},
        error_labels=ERROR_LABELS,
    )


def _item_order(form: Any) -> list[int]:
    numbers = (whole_number(str(v)) for v in form.getall("items", []))
    return [n for n in numbers if n is not None]


def _apply(op: str, order: list[int], form: Any) -> list[int]:
    """The list after one button: move up or down, remove, or add the chosen item."""
    verb, _, arg = op.partition(":")
    target = whole_number(arg)
    if verb == "add":
        chosen = whole_number(str(form.get("add_item", "")))
        if chosen is not None and chosen not in order:
            return [*order, chosen]
        return order
    if target is None or target not in order:
        return order
    i = order.index(target)
    if verb == "remove":
        return order[:i] + order[i + 1 :]
    j = i - 1 if verb == "up" else i + 1 if verb == "down" else i
    if 0 <= j < len(order):
        order = list(order)
        order[i], order[j] = order[j], order[i]
    return order


async def composer_save(request: web.Request) -> web.StreamResponse:
    """Every button of the composer form posts the whole form: text and order are saved,
    then the button's change (up, down, remove, add) is applied."""
    mailing_id = path_id(request, "mailing_id")
    form = await request.post()
    op = str(form.get("op", "save"))
    order = _apply(op, _item_order(form), form)
    subject = str(form.get("subject", ""))
    intro = str(form.get("intro_md", ""))
    texts = {
        code: {
            "subject": str(form.get(f"subject.{code}", "")),
            "intro_md": str(form.get(f"intro_md.{code}", "")),
        }
        for code in languages()
        if code != DEFAULT and f"subject.{code}" in form
    }
    try:
        await digests.edit_digest(
            request.app[keys.pool_key],
            request.app[keys.settings_key],
            mailing_id,
            subject=subject,
            intro_md=intro,
            item_ids=order,
            texts=texts,
            grouping=str(form["grouping"]) if "grouping" in form else None,
        )
    except InvalidInput as exc:
        values = {"subject": subject, "intro_md": intro, "item_order": order, "typed_texts": texts}
        return await composer_page(request, status=400, errors=exc.fields, values=values)
    anchor = f"#item-{op.partition(':')[2]}" if op.startswith(("up:", "down:")) else ""
    raise web.HTTPSeeOther(f"/console/digests/{mailing_id}?saved=1{anchor}")


async def intro_preview(request: web.Request) -> web.StreamResponse:
    """The intro as the mail will show it (sanitised), for the composer's live preview."""
    form = await request.post()
    markdown = str(form.get("intro_md", ""))[:20_000]
    return web.json_response({"html": digests.intro_html(markdown)})
