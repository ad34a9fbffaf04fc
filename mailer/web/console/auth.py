"""Signing in and out, and the one-time set-password link."""

from __future__ import annotations

import re
import secrets

from aiohttp import web
from itsdangerous import BadSignature, URLSafeTimedSerializer

from mailer.accounts import editors
from mailer.errors import InvalidInput, NotFound
from mailer.limits import client_ip
from mailer.web import keys
from mailer.web.console import schedule_form
from mailer.web.console.page import render
from mailer.web.console.session import (
    CSRF_FIELD,
    PRE_COOKIE,
    before_new_password,
    clear_session_cookie,
    current,
    public,
    session_keys,
    session_token,
    set_cookie,
    set_session_cookie,
)

PRE_SECONDS = 3600  # a sign-in form left open longer than this must be reloaded
_SAFE_NEXT = re.compile(r"^/console/[A-Za-z0-9/_\-.?=&%]*$")


def _pre_serializer(request: web.Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        session_keys(request.app[keys.settings_key]), salt="mailer.console.pre-session"
    )


def _pre_session_form(
    request: web.Request, template: str, *, status: int = 200, **values: object
) -> web.Response:
    """A public form protected by a double-submit token: the cookie holds the signed nonce,
    the form the nonce (a cross-site page can neither read nor set our cookie)."""
    nonce = secrets.token_urlsafe(24)
    response = render(request, template, status=status, csrf_token=nonce, **values)
    signed = _pre_serializer(request).dumps(nonce)
    set_cookie(response, request.app[keys.settings_key], PRE_COOKIE, signed, PRE_SECONDS)
    return response


def _pre_session_ok(request: web.Request, given: object) -> bool:
    signed = request.cookies.get(PRE_COOKIE, "")
    if not signed or not isinstance(given, str) or len(signed) > 300:
        return False
    try:
        nonce = _pre_serializer(request).loads(signed, max_age=PRE_SECONDS)
    except BadSignature:
        return False
    return isinstance(nonce, str) and secrets.compare_digest(nonce.encode(), given.encode())


def safe_next(target: str | None) -> str:
    """Only a console path (never another site, never //host) is followed after sign-in."""
    if target and _SAFE_NEXT.match(target) and "//" not in target:
        return target
    return "/console/"


def _sign_in_page(
    request: web.Request,
    *,
    status: int = 200,
    error: str = "",
    email: str = "",
    next_path: str = "/console/",
) -> web.Response:
    notice = ""
    if request.query.get("expired"):
        notice = "Your session ended. Please sign in again."
    elif request.query.get("signed_out"):
        notice = "You are signed out."
    elif request.query.get("password_set"):
        notice = "Your password is set. Sign in with it now."
    return _pre_session_form(
        request,
        "console/sign_in.html",
        status=status,
        title="Sign in",
        error=error,
        notice=notice,
        email=email,
        next_path=next_path,
    )


@public
async def sign_in_page(request: web.Request) -> web.StreamResponse:
    next_path = safe_next(request.query.get("next"))
    token = session_token(request)
    if token and await editors.find_session(request.app[keys.pool_key], token):
        raise web.HTTPSeeOther(next_path)
    return _sign_in_page(request, next_path=next_path)


@public
async def sign_in_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    email = str(form.get("email", ""))[:320]
    next_path = safe_next(str(form.get("next", "")))
    if not _pre_session_ok(request, form.get(CSRF_FIELD)):
        return _sign_in_page(
            request,
            status=403,
            error="The sign-in form expired or was not sent by this site. Please try again.",
            email=email,
            next_path=next_path,
        )
    settings = request.app[keys.settings_key]
    pool = request.app[keys.pool_key]
    try:
        editor_id = await editors.authenticate(
            pool,
            email=email,
            password=str(form.get("password", "")),
            ip=client_ip(request, settings),
        )
    except editors.SignInRefused:
        return _sign_in_page(
            request,
            status=401,
            error="That address and password do not match an account.",
            email=email,
            next_path=next_path,
        )
    except editors.TooManyAttempts as exc:
        response = _sign_in_page(
            request,
            status=429,
            error="Too many failed sign-ins from this network. Wait 15 minutes and try again.",
            email=email,
            next_path=next_path,
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    zone = str(form.get("timezone", ""))[:60]
    if zone in schedule_form.zones():  # filled in by the page's script; none without it
        await editors.remember_first_zone(pool, editor_id, zone)
    token = await editors.start_session(
        pool,
        editor_id,
        ip=client_ip(request, settings),
        user_agent=request.headers.get("User-Agent"),
    )
    response = web.HTTPSeeOther(next_path)
    set_session_cookie(request, response, token)
    response.del_cookie(PRE_COOKIE, path="/console")
    raise response


@before_new_password
async def sign_out(request: web.Request) -> web.StreamResponse:
    token = session_token(request)
    if token:
        await editors.end_session(request.app[keys.pool_key], token)
    response = web.HTTPSeeOther("/console/sign-in?signed_out=1")
    clear_session_cookie(response)
    raise response


def _link_gone(request: web.Request) -> web.Response:
    return render(
        request,
        "console/error.html",
        status=410,
        title="Link expired",
        status_code=410,
        message="This set-password link is unknown, used or expired. Ask an administrator "
        "for a new one (mailer editors reset-password ADDRESS).",
        fields={},
    )


@public
async def set_password_page(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    owner = await editors.password_link_owner(request.app[keys.pool_key], token)
    if owner is None:
        return _link_gone(request)
    return _pre_session_form(
        request, "console/set_password.html", title="Choose a password", email=owner["email"],
        errors={}, min_length=editors.MIN_PASSWORD,
    )  # fmt: skip


@public
async def set_password_post(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    pool = request.app[keys.pool_key]
    owner = await editors.password_link_owner(pool, token)
    if owner is None:
        return _link_gone(request)
    form = await request.post()
    password = str(form.get("password", ""))
    errors: dict[str, str] = {}
    status = 400
    if not _pre_session_ok(request, form.get(CSRF_FIELD)):
        errors["form"] = "The form expired or was not sent by this site. Please try again."
        status = 403
    elif password != str(form.get("password_again", "")):
        errors["password_again"] = "The two passwords differ."  # noqa: S105 -- a message
    else:
        try:
            await editors.set_password_with_token(pool, token, password)
        except InvalidInput as exc:
            errors.update(exc.fields or {"password": str(exc)})
        except NotFound:
            return _link_gone(request)
    if errors:
        return _pre_session_form(
            request, "console/set_password.html", status=status, title="Choose a password",
            email=owner["email"], errors=errors, min_length=editors.MIN_PASSWORD,
        )  # fmt: skip
    response = web.HTTPSeeOther("/console/sign-in?password_set=1")
    clear_session_cookie(response)
    raise response


def _choose_page(
    request: web.Request, *, status: int = 200, errors: dict[str, str] | None = None
) -> web.Response:
    return render(
        request, "console/set_password.html", status=status, title="Choose your password",
        email=current(request).editor.email, errors=errors or {},
        min_length=editors.MIN_PASSWORD, nav=[], given_out=True,
        next_path=safe_next(request.query.get("next")),
    )  # fmt: skip


@before_new_password
async def choose_password_page(request: web.Request) -> web.StreamResponse:
    """A given-out password (the demo admin's) is replaced before anything else."""
    if not current(request).editor.must_change_password:
        raise web.HTTPSeeOther(safe_next(request.query.get("next")))
    return _choose_page(request)


@before_new_password
async def choose_password_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    password = str(form.get("password", ""))
    if password != str(form.get("password_again", "")):
        differ = {"password_again": "The two passwords differ."}
        return _choose_page(request, status=400, errors=differ)
    try:
        await editors.change_own_password(request.app[keys.pool_key], current(request), password)
    except InvalidInput as exc:
        return _choose_page(request, status=400, errors=exc.fields or {"password": str(exc)})
    raise web.HTTPSeeOther(safe_next(str(form.get("next", ""))))
