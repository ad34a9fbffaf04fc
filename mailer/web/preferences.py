"""Preference, unsubscribe and personal-data pages, reached from the links in every mail."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from aiohttp import web

from mailer.audience.consent import Context
from mailer.audience.preferences import (
    PAUSE_CHOICES,
    PreferenceChoice,
    Subscriber,
    active_series,
    erase,
    export_data,
    save_preferences,
    subscriber_from_link,
    unsubscribe,
)
from mailer.audience.resubscribe import Resubscribed
from mailer.audience.resubscribe import resubscribe as resubscribe_subscriber
from mailer.audience.topics import list_topics
from mailer.errors import Conflict, InvalidInput
from mailer.i18n import N_, language_choices, language_of, languages
from mailer.limits import client_ip
from mailer.numbers import whole_number
from mailer.tokens import Purpose
from mailer.web import keys
from mailer.web.forms import read_form
from mailer.web.public import consent_wording, render

MAX_FIELD = 200


def _context(request: web.Request, source: str) -> Context:
    settings = request.app[keys.settings_key]
    return Context(
        ip=client_ip(request, settings),
        user_agent=request.headers.get("User-Agent"),
        source=source,
    )


async def _subscriber(request: web.Request, purpose: Purpose) -> Subscriber:
    return await subscriber_from_link(
        request.app[keys.pool_key],
        request.app[keys.signer_key],
        purpose,
        request.match_info["token"],
    )


def _links(request: web.Request, subscriber: Subscriber) -> dict[str, str]:
    signer = request.app[keys.signer_key]
    ids = (subscriber.subscriber_id, subscriber.key_version)
    return {
        "preferences": f"/preferences/{signer.subscriber_token(Purpose.PREFERENCES, *ids)}",
        "unsubscribe": f"/unsubscribe/{signer.subscriber_token(Purpose.UNSUBSCRIBE, *ids)}",
    }


async def _page(
    request: web.Request,
    subscriber: Subscriber,
    *,
    status: int = 200,
    changes: list[str] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    pause: str = "keep",
    resubscribed: Resubscribed | None = None,
) -> web.Response:
    pool = request.app[keys.pool_key]
    topics = await list_topics(pool, public_only=True)
    series = await active_series(pool)
    language = language_of(subscriber.locale)
    response = render(
        request,
        "web/preferences.html",
        status=status,
        language=language,
        title=N_("Your preferences"),
        language_choices=language_choices(),
        chosen_language=language,
        subscriber=subscriber,
        topics=topics,
        series=series,
        links=_links(request, subscriber),
        changes=changes,
        errors=errors or {},
        notice=notice,
        pause=pause,
        resubscribed=resubscribed,
        consent=consent_wording(request.app[keys.settings_key].organisation, language),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def preferences_page(request: web.Request) -> web.Response:
    return await _page(request, await _subscriber(request, Purpose.PREFERENCES))


async def preferences_save(request: web.Request) -> web.Response:
    subscriber = await _subscriber(request, Purpose.PREFERENCES)
    form = await read_form(request)
    name = str(form.get("name", "")).strip()
    errors: dict[str, str] = {}
    if len(name) > 100 or any(c in name for c in "<>\r\n\x00"):
        errors["name"] = N_("At most 100 characters, on one line, without < or >.")
    pause = str(form.get("pause", "keep"))
    if pause != "keep" and pause not in PAUSE_CHOICES:
        errors["pause"] = N_("Choose one of the offered pauses.")
    slugs = tuple(str(v)[:MAX_FIELD] for v in form.getall("topics", []))
    if len(slugs) > 100:
        errors["topics"] = N_("Too many topics.")
    picked = [whole_number(str(v)) for v in form.getall("series", [])]
    if len(picked) > 50 or None in picked:
        errors["series"] = N_("Choose among the offered digests.")
    language = str(form.get("language", "")) or None
    if language is not None and language not in languages():
        errors["language"] = N_("Choose one of the offered languages.")
    # A refused form comes back as it was filled in, not as it is stored: "choose a
    # topic" beside a ticked box, and every other change undone, confused people.
    posted = replace(
        subscriber,
        name=name[:MAX_FIELD],
        topics=slugs,
        series=tuple(n for n in picked if n is not None),
        accepts_alerts=form.get("alerts") == "on",
        plain_text_only=form.get("plain_text_only") == "on",
        locale=language or subscriber.locale,
        both_languages=form.get("both_languages") == "on",
    )
    if errors:
        return await _page(request, posted, status=400, errors=errors, pause=pause)
    choice = PreferenceChoice(
        name=name or None,
        series=tuple(n for n in picked if n is not None) if form.get("series_shown") else None,
        topics=tuple(dict.fromkeys(slugs)),
        plain_text_only=form.get("plain_text_only") == "on",
        pause_months=None if pause == "keep" else PAUSE_CHOICES[pause],
        alerts=form.get("alerts") == "on" if form.get("alerts_shown") else None,
        language=language,
        both_languages=form.get("both_languages") == "on" if language else None,
    )
    try:
        changes = await save_preferences(
            request.app[keys.pool_key], subscriber, choice, _context(request, "preferences page")
        )
    except InvalidInput as exc:
        return await _page(request, posted, status=400, errors=exc.fields, pause=pause)
    except Conflict as exc:
        return await _page(request, subscriber, status=409, notice=str(exc))
    updated = await _subscriber(request, Purpose.PREFERENCES)
    return await _page(request, updated, changes=changes or [N_("Nothing changed.")])


async def preferences_unsubscribe(request: web.Request) -> web.Response:
    subscriber = await _subscriber(request, Purpose.PREFERENCES)
    return await _unsubscribe(request, subscriber, one_click=False)


async def _unsubscribe(
    request: web.Request, subscriber: Subscriber, *, one_click: bool
) -> web.Response:
    await unsubscribe(
        request.app[keys.pool_key],
        subscriber.subscriber_id,
        _context(request, "one-click unsubscribe" if one_click else "unsubscribe page"),
        one_click=one_click,
    )
    return render(
        request,
        "web/unsubscribed.html",
        language=subscriber.locale,
        title=N_("You're unsubscribed"),
        links=_links(request, subscriber),
    )


async def resubscribe(request: web.Request) -> web.Response:
    """An unsubscribed person subscribes again from their personal link: at once, no
    confirmation mail (the signed link proves the mailbox; see mailer.audience.resubscribe)."""
    subscriber = await _subscriber(request, Purpose.PREFERENCES)
    settings = request.app[keys.settings_key]
    outcome = await resubscribe_subscriber(
        request.app[keys.pool_key],
        settings,
        subscriber.subscriber_id,
        _context(request, "preferences page"),
        consent_text=consent_wording(settings.organisation, language_of(subscriber.locale)),
    )
    updated = await _subscriber(request, Purpose.PREFERENCES)
    if outcome is Resubscribed.REFUSED:
        notice = N_(
            "We cannot send mail to this address any more: mail to it bounced or was "
            "reported as unwanted. Please contact us if that has changed."
        )
        return await _page(request, updated, status=409, notice=notice)
    return await _page(request, updated, resubscribed=outcome)


async def unsubscribe_page(request: web.Request) -> web.Response:
    """GET shows one button: link scanners must not unsubscribe anybody."""
    subscriber = await _subscriber(request, Purpose.UNSUBSCRIBE)
    response = render(
        request,
        "web/unsubscribe.html",
        language=subscriber.locale,
        title=N_("Unsubscribe")
        if subscriber.status != "unsubscribed"
        else N_("Already unsubscribed"),
        subscriber=subscriber,
        links=_links(request, subscriber),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def unsubscribe_post(request: web.Request) -> web.Response:
    """RFC 8058 one-click (body List-Unsubscribe=One-Click, urlencoded or multipart, no
    cookies) and our own button: unsubscribe at once, answer 200, no redirect."""
    subscriber = await _subscriber(request, Purpose.UNSUBSCRIBE)
    form = await read_form(request)
    one_click = form.get("List-Unsubscribe") == "One-Click"
    return await _unsubscribe(request, subscriber, one_click=one_click)


def data_file(data: dict[str, Any], filename: str) -> web.Response:
    """A subscriber's data (export_data) as a JSON file to save; also the console's export."""
    return web.Response(
        text=json.dumps(data, indent=2, ensure_ascii=False, default=str),
        content_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


async def data_download(request: web.Request) -> web.Response:
    subscriber = await _subscriber(request, Purpose.PREFERENCES)
    data = await export_data(request.app[keys.pool_key], subscriber.subscriber_id)
    return data_file(data, "my-newsletter-data.json")


async def erase_page(request: web.Request) -> web.Response:
    subscriber = await _subscriber(request, Purpose.PREFERENCES)
    return render(
        request,
        "web/erase_confirm.html",
        language=subscriber.locale,
        title=N_("Delete my data"),
        subscriber=subscriber,
        links=_links(request, subscriber),
    )


async def erase_post(request: web.Request) -> web.Response:
    subscriber = await _subscriber(request, Purpose.PREFERENCES)
    form = await read_form(request)
    if form.get("confirm") != "yes":
        return render(
            request,
            "web/erase_confirm.html",
            status=400,
            language=subscriber.locale,
            title=N_("Delete my data"),
            subscriber=subscriber,
            links=_links(request, subscriber),
            error=N_("Tick the box to confirm."),
        )
    await erase(request.app[keys.pool_key], subscriber.subscriber_id, requested_by="subscriber")
    return render(
        request, "web/erased.html", language=subscriber.locale, title=N_("Your data is deleted")
    )
