"""The confirmation link's pages: confirm by POST, welcome, expired or used links, resend."""

from __future__ import annotations

from aiohttp import web

from mailer.audience.consent import Context
from mailer.audience.preferences import welcome_summary
from mailer.audience.signup import (
    ConfirmState,
    ConfirmView,
    confirm,
    inspect_confirmation,
    resend_confirmation,
)
from mailer.errors import NotFound
from mailer.i18n import (
    N_,
)
from mailer.limits import client_ip
from mailer.tokens import Purpose
from mailer.web import keys
from mailer.web.public import render


def _expired(request: web.Request, token: str, view_language: str | None) -> web.Response:
    return render(
        request,
        "web/confirm_expired.html",
        status=410,
        language=view_language,
        title=N_("Link expired"),
        token=token,
    )


def _preferences_url(request: web.Request, view: ConfirmView) -> str:
    token = request.app[keys.signer_key].subscriber_token(
        Purpose.PREFERENCES, view.subscriber_id, view.key_version
    )
    return f"{request.app[keys.settings_key].base_url}/preferences/{token}"


async def _welcome(request: web.Request, view: ConfirmView) -> web.Response:
    summary = await welcome_summary(request.app[keys.pool_key], view.subscriber_id)
    response = render(
        request,
        "web/confirm_done.html",
        language=view.locale,
        title=N_("You're subscribed"),
        already=view.state is ConfirmState.DONE,
        name=view.name,
        preferences_url=_preferences_url(request, view),
        topics=summary["topics"],
        next_digest_at=summary["next_digest_at"],
    )
    response.headers["Cache-Control"] = "no-store"  # it carries the personal link
    return response


def _used(request: web.Request, view: ConfirmView, token: str) -> web.Response:
    """A link that confirmed before, or was sent before the person unsubscribed."""
    response = render(
        request,
        "web/confirm_used.html",
        status=410,
        language=view.locale,
        title=N_("This link no longer works"),
        unsubscribed=view.status == "unsubscribed",
        token=token,
        preferences_url=_preferences_url(request, view),
    )
    response.headers["Cache-Control"] = "no-store"  # it carries the personal link
    return response


async def _answer(request: web.Request, view: ConfirmView, token: str) -> web.Response | None:
    """The page for a link that cannot be confirmed (any more); None if it can."""
    if view.state is ConfirmState.EXPIRED:
        return _expired(request, token, view.locale)
    if view.state is ConfirmState.USED:
        return _used(request, view, token)
    if view.state is ConfirmState.DONE:
        return await _welcome(request, view)
    return None


def _not_valid(request: web.Request) -> web.Response:
    # Most bad links were cut short (a mail program wrapped the line, a copy missed the
    # end): say how to get a whole one, and where to sign up again.
    return render(request, "web/confirm_invalid.html", status=404, title=N_("Link not valid"))


async def confirm_page(request: web.Request) -> web.Response:
    """GET changes nothing: link scanners fetch it too. The page confirms by POST itself."""
    token = request.match_info["token"]
    try:
        view = await inspect_confirmation(request.app[keys.pool_key], token)
    except NotFound:
        return _not_valid(request)
    answer = await _answer(request, view, token)
    if answer is not None:
        return answer
    response = render(
        request,
        "web/confirm.html",
        language=view.locale,
        title=N_("Confirm your subscription"),
        token=token,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def confirm_post(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    settings = request.app[keys.settings_key]
    context = Context(
        ip=client_ip(request, settings),
        user_agent=request.headers.get("User-Agent"),
        source="confirmation link",
    )
    try:
        view = await confirm(request.app[keys.pool_key], settings, token, context)
    except NotFound:
        return _not_valid(request)
    return await _answer(request, view, token) or await _welcome(request, view)


async def confirm_resend(request: web.Request) -> web.Response:
    pool = request.app[keys.pool_key]
    try:
        await resend_confirmation(
            pool,
            request.app[keys.signer_key],
            request.app[keys.settings_key],
            request.match_info["token"],
        )
    except NotFound:
        return _not_valid(request)
    return render(request, "web/confirm_resent.html", title=N_("A new link is on its way"))
