"""Console sessions: the signed cookie, who is signed in, role guards, CSRF on every POST.

Every console route needs a signed-in editor unless its handler is marked `@public`; an
`@admin_only` handler answers 403 to editors. Unsafe methods (POST, ...) must carry the
session's CSRF token, as the form field `csrf_token` or the header `X-CSRF-Token` (scripts),
or they get 403 before the handler runs.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler
from itsdangerous import BadSignature, URLSafeTimedSerializer

from mailer.accounts.editors import SESSION_SECONDS, Session, find_session
from mailer.config import Settings
from mailer.web import keys
from mailer.web.middleware import translate_error

COOKIE = "mailer_console"
PRE_COOKIE = "mailer_console_pre"  # the sign-in form's own CSRF nonce (no session yet)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

session_key = web.RequestKey("console_session", Session)
serializer_key = web.AppKey("console_serializer", URLSafeTimedSerializer)

H = TypeVar("H", bound=Callable[[web.Request], Awaitable[web.StreamResponse]])


class Access(Enum):
    PUBLIC = "public"
    EDITOR = "editor"
    ADMIN = "admin"


def public(handler: H) -> H:
    """No sign-in needed (the sign-in and set-password pages); they check CSRF themselves."""
    handler.console_access = Access.PUBLIC  # type: ignore[attr-defined]
    return handler


def admin_only(handler: H) -> H:
    """Admins only: an editor gets 403."""
    handler.console_access = Access.ADMIN  # type: ignore[attr-defined]
    return handler


def before_new_password(handler: H) -> H:
    """Open to an editor who must first replace a given-out password (the page to choose
    it, signing out); every other page sends them to choose it."""
    handler.console_password_due = True  # type: ignore[attr-defined]
    return handler


CHOOSE_PASSWORD = "/console/choose-password"  # noqa: S105 -- a path


def session_keys(settings: Settings) -> list[str]:
    """The secret keys as itsdangerous takes them: it signs with the last and verifies with
    all, so a rotation keeps editors signed in."""
    return list(reversed(settings.signing_keys))


def serializer(settings: Settings) -> URLSafeTimedSerializer:
    # itsdangerous signs and timestamps the cookie; a tampered or stale one is refused
    # before the database is asked.
    return URLSafeTimedSerializer(session_keys(settings), salt="mailer.console.session")


def secure_cookies(settings: Settings) -> bool:
    """Secure cookies whenever the service is reached over https (always in production,
    which requires an https MAILER_BASE_URL); plain http only in development."""
    return settings.base_url.startswith("https://")


def set_cookie(
    response: web.StreamResponse, settings: Settings, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(settings),
    )


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    signed = request.app[serializer_key].dumps(token)
    set_cookie(response, request.app[keys.settings_key], COOKIE, signed, SESSION_SECONDS)


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/console")


def session_token(request: web.Request) -> str | None:
    """The session token of a validly signed, unexpired cookie, else None."""
    signed = request.cookies.get(COOKIE)
    if not signed or len(signed) > 500:
        return None
    try:
        token = request.app[serializer_key].loads(signed, max_age=SESSION_SECONDS)
    except BadSignature:  # includes SignatureExpired
        return None
    return token if isinstance(token, str) else None


def current(request: web.Request) -> Session:
    return request[session_key]


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


async def _csrf_ok(request: web.Request, expected: str) -> bool:
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        return same_token(header, expected)
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()  # cached: the handler reads it again for free
        field = form.get(CSRF_FIELD)
        return isinstance(field, str) and same_token(field, expected)
    return False


def _wants_data(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return accept.startswith(("application/json", "text/event-stream"))


def sign_in_url(request: web.Request, *, expired: bool = False) -> str:
    target = request.path_qs if request.method == "GET" else "/console/"
    query = f"?next={quote(target, safe='')}"
    return f"/console/sign-in{query}{'&expired=1' if expired else ''}"


ErrorPage = Callable[[web.Request, int, str, dict[str, str]], web.StreamResponse]


def console_middleware(error_page: ErrorPage) -> Any:
    """Default-deny access control for the console sub-application."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        route_handler = request.match_info.handler
        access = getattr(route_handler, "console_access", Access.EDITOR)
        if access is not Access.PUBLIC:
            token = session_token(request)
            session = await find_session(request.app[keys.pool_key], token) if token else None
            if session is None:
                had_cookie = COOKIE in request.cookies
                if _wants_data(request):
                    return web.json_response(
                        {"error": {"status": 401, "message": "sign in again"}}, status=401
                    )
                redirect = web.HTTPSeeOther(sign_in_url(request, expired=had_cookie))
                if had_cookie:
                    clear_session_cookie(redirect)
                raise redirect
            request[session_key] = session
            if session.editor.must_change_password and not getattr(
                route_handler, "console_password_due", False
            ):
                if _wants_data(request):
                    message = "choose your own password first"
                    return web.json_response(
                        {"error": {"status": 403, "message": message}}, status=403
                    )
                target = request.path_qs if request.method == "GET" else "/console/"
                raise web.HTTPSeeOther(f"{CHOOSE_PASSWORD}?next={quote(target, safe='')}")
            if access is Access.ADMIN and not session.editor.is_admin:
                return error_page(request, 403, "This page is for administrators.", {})
            if request.method not in SAFE_METHODS and not await _csrf_ok(
                request, session.csrf_token
            ):
                return error_page(
                    request,
                    403,
                    "The form was missing its security token or it was wrong. Reload the page "
                    "and try again.",
                    {},
                )
        try:
            response = await handler(request)
        except Exception as exc:
            return error_page(request, *translate_error(request, exc))
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return middleware
