"""Pages subscribers reach: the hosted signup form and the confirmation link."""

from __future__ import annotations

import math
import re
import time
from typing import Any

from aiohttp import web

from mailer.audience.signup import (
    SignupOutcome,
    notice_wait_seconds,
    sign_up,
)
from mailer.audience.signup_input import parse_signup
from mailer.audience.topics import list_topics
from mailer.errors import InvalidInput
from mailer.i18n import (
    DEFAULT,
    N_,
    format_number,
    from_accept_language,
    gettext_for,
    language_choices,
    language_of,
    say,
    translations,
)
from mailer.limits import client_ip
from mailer.numbers import whole_number
from mailer.tokens import InvalidToken, Purpose
from mailer.web import keys
from mailer.web.forms import BodyProblem, parse_body, read_limited
from mailer.web.middleware import error_response
from mailer.web.webhooks import too_many

# A form posted faster than this after it was served is a bot's.
MIN_FORM_SECONDS = 2.0
MAX_FORM_AGE_SECONDS = 24 * 3600.0
ADDRESS_COOKIE = "mailer_signup"


def request_language(request: web.Request) -> str:
    """The language a page is shown in when no subscriber is known: ?lang=, else the
    browser's Accept-Language, else English."""
    asked = request.query.get("lang", "")
    if asked:
        return language_of(asked)
    return from_accept_language(request.headers.get("Accept-Language"))


def render(
    request: web.Request,
    template: str,
    status: int = 200,
    *,
    language: str | None = None,
    **context: Any,
) -> web.Response:
    """A subscriber page in the reader's language (a known subscriber's stored one, else
    the request's); error pages later in the same request use it too."""
    settings = request.app[keys.settings_key]
    code = language_of(language) if language else request_language(request)
    request[keys.language_key] = code
    page = request.config_dict[keys.localized_pages_key].get(code).get_template(template)
    html = page.render(org=settings.organisation, logo_url=settings.logo_url, **context)
    response = web.Response(text=html, status=status, content_type="text/html")
    response.headers["Content-Language"] = code
    return response


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def _place(text: str) -> str:
    """Where the form sits (?source=...), as a one-line label: control characters (a line
    break in the link, say) would make every signup from that page fail."""
    return " ".join(_CONTROL.sub(" ", text).split())[:200]


def consent_wording(organisation: str, language: str = "en") -> str:
    """What the reader agrees to, in the language shown: the consent ledger stores it so."""
    text = gettext_for(
        language,
        N_(
            "Yes, send me %(organisation)s's news on the topics I chose. I can unsubscribe "
            "at any time with the link in every mail."
        ),
    )
    return text % {"organisation": organisation}


# What the hosted form says beside a field the signup parser refused (its own messages
# are written for integrators).
_FIELD_HELP = {
    "email": N_("Enter a valid email address, such as name@example.org."),
    "name": N_("At most 100 characters, on one line, without < or >."),
    "topics": N_("Choose at least one topic."),
    "language": N_("Choose one of the offered languages."),
}


async def _form(
    request: web.Request,
    *,
    embed: bool,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> web.Response:
    settings = request.app[keys.settings_key]
    topics = await list_topics(request.app[keys.pool_key], public_only=True)
    posted = str((values or {}).get("language", ""))
    language = language_of(posted) if posted else request_language(request)
    response = render(
        request,
        "web/subscribe.html",
        status=status,
        language=language,
        title=N_("Subscribe"),
        language_choices=language_choices(),
        chosen_language=language,
        embed=embed,
        topics=topics,
        errors=errors or {},
        values=values or {},
        stamp=request.app[keys.signer_key].form_stamp(int(time.time())),
        source=_place(request.query.get("source", "")),
        consent=consent_wording(settings.organisation, language),
        action="/subscribe/embed" if embed else "/subscribe",
    )
    if embed:  # meant to sit in an iframe on the organisation's site
        response.headers["Content-Security-Policy"] = "frame-ancestors *"
    return response


async def subscribe_page(request: web.Request) -> web.Response:
    return await _form(request, embed=False)


async def subscribe_embed_page(request: web.Request) -> web.Response:
    return await _form(request, embed=True)


async def _too_many(
    request: web.Request, *, embed: bool, wait: float, values: dict[str, Any], why: str
) -> web.Response:
    """The form again, as it was filled in, saying when to try again (not a bare error
    page that loses what the person typed)."""
    seconds = max(1, math.ceil(wait))
    posted = str(values.get("language", ""))
    code = language_of(posted) if posted else request_language(request)
    catalog = translations(code)
    if seconds < 120:
        when = catalog.ngettext(
            "Please try again in %(count)s second.",
            "Please try again in %(count)s seconds.",
            seconds,
        ) % {"count": format_number(seconds, code)}
    else:
        minutes = math.ceil(seconds / 60)
        when = catalog.ngettext(
            "Please try again in %(count)s minute.",
            "Please try again in %(count)s minutes.",
            minutes,
        ) % {"count": format_number(minutes, code)}
    message = f"{say(why, code)} {when}"
    response = await _form(
        request, embed=embed, status=429, errors={"form": message}, values=values
    )
    response.headers["Retry-After"] = str(seconds)
    return response


async def subscribe_post(request: web.Request) -> web.Response:
    embed = request.path.endswith("/embed")
    settings = request.app[keys.settings_key]
    limits = request.app[keys.limits_key]
    wait = limits.form_ip.hit(client_ip(request, settings))
    try:
        data = parse_body(request, await read_limited(request))
    except BodyProblem as problem:
        if wait:
            return too_many(request, wait)
        return error_response(request, problem.status, str(problem))
    if wait:
        why = N_("Too many signups came from your network just now.")
        return await _too_many(request, embed=embed, wait=wait, values=data, why=why)
    thanks = web.HTTPSeeOther("/subscribe/thanks" + ("?embed=1" if embed else ""))
    if str(data.get("website", "")).strip():
        raise thanks  # the honeypot was filled in: a bot; it learns nothing
    try:
        issued = request.app[keys.signer_key].read_form_stamp(str(data.get("stamp", "")))
    except InvalidToken:
        return await _form(
            request,
            embed=embed,
            status=400,
            errors={"form": N_("The form expired; please fill it in again.")},
            values=data,
        )
    age = time.time() - issued
    if age > MAX_FORM_AGE_SECONDS:
        return await _form(
            request,
            embed=embed,
            status=400,
            errors={"form": N_("The form expired; please fill it in again.")},
            values=data,
        )
    place = _place(str(data.get("source") or ""))
    posted = str(data.get("language") or "")
    language = language_of(posted) if posted else request_language(request)
    fields = {
        "email": data.get("email"),
        "name": data.get("name") or None,
        "topics": data.get("topics") or [],
        "source": f"hosted form{' (embedded)' if embed else ''}{': ' + place if place else ''}",
        "consent_text": consent_wording(settings.organisation, language),
        "alerts": data.get("alerts") == "on",
        "locale": language,
    }
    try:
        no_topic = {} if fields["topics"] else {"topics": _FIELD_HELP["topics"]}
        try:
            signup_request = parse_signup(
                fields,
                ip=client_ip(request, settings),
                user_agent=request.headers.get("User-Agent"),
            )
        except InvalidInput as exc:  # report every problem at once
            raise InvalidInput(str(exc), {**exc.fields, **no_topic}) from exc
        if no_topic:
            raise InvalidInput("no topic", no_topic)
        if age < MIN_FORM_SECONDS:
            # Faster than a person types (autofill and Enter, or a bot): checked after the
            # input, so a typo is still named; a valid form is asked for once more, never
            # answered "check your inbox" with no mail coming.
            return await _form(
                request,
                embed=embed,
                status=400,
                errors={"form": "Please check your address and topics, then press Subscribe."},
                values=data,
            )
        wait = limits.address.hit(signup_request.email.casefold())
        if wait:
            why = N_("This address was signed up several times in the last hour.")
            return await _too_many(request, embed=embed, wait=wait, values=data, why=why)
        outcome = await sign_up(
            request.app[keys.signups_key], request.app[keys.signer_key], signup_request
        )
    except InvalidInput as exc:
        # English keeps the parser's precise words (the email checker's say what is wrong);
        # other languages get the field's help in their words.
        errors = (
            exc.fields
            if language == DEFAULT
            else {key: _FIELD_HELP.get(key, problem) for key, problem in exc.fields.items()}
        )
        return await _form(request, embed=embed, status=400, errors=errors, values=data)
    # The thanks page speaks the language chosen on the form (English needs no mention).
    lang = "" if language == DEFAULT else f"&lang={language}"
    wait = 0.0
    if outcome is SignupOutcome.THROTTLED:
        # Nothing was sent: "check your inbox" would have them wait for a mail that never
        # comes. Saying a mail left recently tells no more than the form already lets anyone
        # learn (it is the same for new, pending, subscribed and unsubscribed addresses).
        wait = await notice_wait_seconds(request.app[keys.pool_key], signup_request.email)
    elif outcome in (SignupOutcome.SILENT, SignupOutcome.SUPPRESSED):
        # Never mailed, so never throttled by the database: answer a repeat as if a mail had
        # gone out at the first post, or a second post would tell a suppressed address.
        wait = limits.unmailed.hit(signup_request.email.casefold())
    if wait > 0:
        minutes = min(10, max(1, math.ceil(wait / 60)))
        thanks = web.HTTPSeeOther(
            f"/subscribe/thanks?{'embed=1&' if embed else ''}recent={minutes}{lang}"
        )
    else:
        query = (("&embed=1" if embed else "") + lang)[1:]
        thanks = web.HTTPSeeOther("/subscribe/thanks" + (f"?{query}" if query else ""))
    # The thanks page names the address (a typo shows) and can send the mail again.
    signed = request.app[keys.signer_key].sign_blob(Purpose.ADDRESS, signup_request.email.encode())
    thanks.set_cookie(
        ADDRESS_COOKIE,
        signed,
        max_age=3600,
        path="/subscribe",
        httponly=True,
        samesite="Lax",
        secure=settings.base_url.startswith("https:"),
    )
    raise thanks


async def subscribe_thanks(request: web.Request) -> web.Response:
    embed = request.query.get("embed") == "1"
    recent = request.query.get("recent", "")
    # ?recent=N: the signup was throttled; a mail went out less than 10 minutes ago.
    minutes = whole_number(recent, max_digits=2) or 0
    minutes = min(minutes, 10)
    title = N_("We wrote to you a few minutes ago") if minutes else N_("Check your inbox")
    try:
        blob = request.app[keys.signer_key].read_blob(
            Purpose.ADDRESS, request.cookies.get(ADDRESS_COOKIE, ""), max_length=600
        )
        email = blob.decode()
    except (InvalidToken, UnicodeDecodeError, ValueError):
        email = ""
    response = render(
        request,
        "web/subscribe_thanks.html",
        title=title,
        embed=embed,
        recent_minutes=minutes,
        email=email,
        errors={},
    )
    response.headers["Cache-Control"] = "no-store"  # it names the address
    if embed:  # the answer to the embedded form shows in the same frame
        response.headers["Content-Security-Policy"] = "frame-ancestors *"
    return response
