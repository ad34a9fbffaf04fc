"""The editor API under /api/v1: API-key authentication and JSON handlers."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler

from mailer.accounts.api_keys import authenticate
from mailer.audience import preferences, topics
from mailer.content import feeds, items
from mailer.content.parse import parse_iso_date
from mailer.delivery import mailings
from mailer.errors import InvalidInput
from mailer.fetch import make_session
from mailer.numbers import whole_number
from mailer.web import keys
from mailer.web.forms import BodyProblem, parse_body, read_limited
from mailer.web.middleware import error_response

# Which API key made the request (its name), for handlers that record who did what.
api_key_name = web.RequestKey("api_key_name", str)

# The handlers an admin's key alone may call (an editor's key gets 403), as in the console:
# topics, feeds and series changed, subscriber data, erasure, imports and exports,
# suppressions added or lifted, outbound webhooks. Filled by @admin_key.
ADMIN_ONLY: set[Any] = set()
_H = TypeVar("_H")


def admin_key(handler: _H) -> _H:
    """Mark an API handler as needing an admin's key."""
    ADMIN_ONLY.add(handler)
    return handler


@web.middleware
async def require_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every API call carries `Authorization: Bearer <key>`; 401 otherwise, 403 when an
    editor's key calls what admins alone may."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    found = None
    if scheme.lower() == "bearer" and key:
        found = await authenticate(request.app[keys.pool_key], key.strip())
    if found is None:
        response = error_response(request, 401, "a valid API key is required")
        response.headers["WWW-Authenticate"] = 'Bearer realm="mailer"'
        return response
    if not found.is_admin and request.match_info.handler in ADMIN_ONLY:
        return error_response(
            request, 403, "this needs an admin's API key (this key is an editor's)"
        )
    request[api_key_name] = found.name
    return await handler(request)


def _mailing_id(request: web.Request) -> int:
    number = whole_number(request.match_info["mailing_id"])
    if number is None:
        raise InvalidInput("mailing id must be a positive integer", {"mailing_id": "not a number"})
    return number


async def mailing_progress(request: web.Request) -> web.Response:
    progress = await mailings.progress(request.app[keys.pool_key], _mailing_id(request))
    return web.json_response(progress.as_json())


async def pause_mailing(request: web.Request) -> web.Response:
    pool = request.app[keys.pool_key]
    mailing_id = _mailing_id(request)
    await mailings.pause(pool, mailing_id)
    return web.json_response((await mailings.progress(pool, mailing_id)).as_json())


async def resume_mailing(request: web.Request) -> web.Response:
    pool = request.app[keys.pool_key]
    mailing_id = _mailing_id(request)
    await mailings.resume(pool, mailing_id)
    return web.json_response((await mailings.progress(pool, mailing_id)).as_json())


async def cancel_mailing(request: web.Request) -> web.Response:
    pool = request.app[keys.pool_key]
    mailing_id = _mailing_id(request)
    await mailings.cancel(pool, mailing_id)
    return web.json_response((await mailings.progress(pool, mailing_id)).as_json())


def create_api_app(parent: web.Application) -> web.Application:
    """The /api/v1 sub-application (routes in web/routes.py); shares the parent's state."""
    api = web.Application(middlewares=[require_api_key])
    api[keys.pool_key] = parent[keys.pool_key]
    api[keys.settings_key] = parent[keys.settings_key]
    api[keys.pages_key] = parent[keys.pages_key]
    return api


async def json_object(request: web.Request) -> dict[str, Any]:
    try:
        data = parse_body(request, await read_limited(request))
    except BodyProblem as problem:
        raise ApiProblem(problem.status, str(problem)) from problem
    return data


class ApiProblem(web.HTTPException):
    """A body that cannot be read: 400, 413 or 415 with the reason, in the error shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(text=message)
        self.set_status(status)


@dataclass(frozen=True)
class ListOf:
    """A field that must be a list whose every element has this type."""

    kind: type


@dataclass(frozen=True)
class Whole:
    """An integer field within bounds (a JSON number may be any size; a column is not)."""

    low: int
    high: int


Spec = dict[str, type | ListOf | Whole]

# Any integer field without bounds of its own must at least fit PostgreSQL's bigint.
_BIGINT = Whole(-(2**63), 2**63 - 1)


def read_fields(data: dict[str, Any], spec: Spec, what: str) -> dict[str, Any]:
    """The optional fields of a JSON body, each checked against its type (None when
    absent), or InvalidInput naming every field that is wrong."""
    problems: dict[str, str] = {}
    fields: dict[str, Any] = {}
    for key, kind in spec.items():
        value = data.get(key)
        if value is not None and not _is(value, kind):
            problems[key] = f"must be {_describe(kind)}"
            value = None
        fields[key] = value
    if problems:
        raise InvalidInput(f"invalid {what}", problems)
    return fields


_NAMES = {str: "a string", int: "an integer", bool: "true or false", dict: "an object"}
_JSON_TYPES = {str: "string", int: "integer", bool: "boolean", dict: "object"}


def spec_schema(spec: Spec) -> dict[str, Any]:
    """The JSON Schema properties `read_fields` checks with this spec: the OpenAPI document
    describes request bodies from the same specs the handlers validate with."""
    return {key: _kind_schema(kind) for key, kind in spec.items()}


def _kind_schema(kind: type | ListOf | Whole) -> dict[str, Any]:
    if isinstance(kind, Whole):
        return {"type": "integer", "minimum": kind.low, "maximum": kind.high}
    if isinstance(kind, ListOf):
        return {"type": "array", "items": _kind_schema(kind.kind)}
    return {"type": _JSON_TYPES[kind]}


def _describe(kind: type | ListOf | Whole) -> str:
    if isinstance(kind, Whole):
        return f"an integer from {kind.low} to {kind.high}"
    if kind is int:
        return _describe(_BIGINT)
    if isinstance(kind, ListOf):
        return f"a list, each {_describe(kind.kind).removeprefix('a ').removeprefix('an ')}"
    return _NAMES.get(kind, kind.__name__)


def _is(value: Any, kind: type | ListOf | Whole) -> bool:
    if isinstance(kind, ListOf):
        return isinstance(value, list) and all(_is(v, kind.kind) for v in value)
    if kind is int:
        kind = _BIGINT
    if isinstance(kind, Whole):  # JSON true is not a number
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and kind.low <= value <= kind.high
        )
    return isinstance(value, kind)


# The same range as the console's topic form (a topic's position is an int column).
TOPIC_POSITIONS = Whole(-100_000, 100_000)
TOPIC_FIELDS: Spec = {"name": str, "description": str, "public": bool, "position": TOPIC_POSITIONS}
SOURCE_FIELDS: Spec = {
    "url": str,
    "name": str,
    "topics": ListOf(str),
    "category_rules": dict,
    "poll_interval": int,
    "paused": bool,
}


async def list_topics_handler(request: web.Request) -> web.Response:
    found = await topics.list_topics(request.app[keys.pool_key])
    return web.json_response({"topics": [t.as_json() for t in found]})


@admin_key
async def create_topic_handler(request: web.Request) -> web.Response:
    data = await json_object(request)
    fields = read_fields(data, TOPIC_FIELDS, "topic")
    slug = data.get("slug")
    if fields["name"] is None:
        raise InvalidInput("invalid topic", {"name": "required"})
    if slug is not None and not isinstance(slug, str):
        raise InvalidInput("invalid topic", {"slug": "must be a str"})
    topic = await topics.create_topic(
        request.app[keys.pool_key],
        name=fields["name"],
        slug=slug,
        description=fields["description"] or "",
        public=True if fields["public"] is None else fields["public"],
        position=fields["position"] or 0,
    )
    return web.json_response(topic.as_json(), status=201)


@admin_key
async def update_topic_handler(request: web.Request) -> web.Response:
    fields = read_fields(await json_object(request), TOPIC_FIELDS, "topic")
    topic = await topics.update_topic(
        request.app[keys.pool_key], request.match_info["slug"], **fields
    )
    return web.json_response(topic.as_json())


@admin_key
async def delete_topic_handler(request: web.Request) -> web.Response:
    await topics.delete_topic(request.app[keys.pool_key], request.match_info["slug"])
    return web.Response(status=204)


def _address_from(data: dict[str, Any] | Any) -> str:
    email = data.get("email") if hasattr(data, "get") else None
    if not isinstance(email, str) or not email.strip() or len(email) > 320:
        raise InvalidInput("an address is required", {"email": "required"})
    return email


@admin_key
async def subscriber_data(request: web.Request) -> web.Response:
    """A data-subject access request: everything held about one address."""
    pool = request.app[keys.pool_key]
    subscriber_id = await preferences.find_by_address(pool, _address_from(request.query))
    return web.json_response(await preferences.export_data(pool, subscriber_id), dumps=dumps_json)


@admin_key
async def subscriber_erase(request: web.Request) -> web.Response:
    """A data-subject erasure request, made by an editor on the person's behalf."""
    pool = request.app[keys.pool_key]
    subscriber_id = await preferences.find_by_address(
        pool, _address_from(await json_object(request))
    )
    await preferences.erase(pool, subscriber_id, requested_by=f"editor ({request[api_key_name]})")
    return web.json_response({"status": "erased"})


def dumps_json(data: Any) -> str:
    return json.dumps(data, default=str)


def _int_param(request: web.Request, name: str) -> int | None:
    text = request.query.get(name)
    if text is None or text == "":
        return None
    number = whole_number(text)
    if number is None:
        raise InvalidInput(f"invalid {name}", {name: "a positive integer"})
    return number


def _date_param(request: web.Request, name: str) -> datetime | None:
    text = request.query.get(name)
    if not text:
        return None
    moment = parse_iso_date(text)
    if moment is None:
        raise InvalidInput(f"invalid {name}", {name: "an ISO 8601 date, e.g. 2026-11-01"})
    return moment


async def list_items_handler(request: web.Request) -> web.Response:
    """Items, newest first; `cursor` from the previous page's `next_cursor`."""
    pool = request.app[keys.pool_key]
    topic_id = None
    if slug := request.query.get("topic"):
        topic = {t.slug: t for t in await topics.list_topics(pool)}.get(slug)
        if topic is None:
            raise InvalidInput("unknown topic", {"topic": f"no topic {slug!r}"})
        topic_id = topic.topic_id
    after = None
    if cursor := request.query.get("cursor"):
        after = items.parse_items_cursor(cursor)
    limit = _int_param(request, "limit") or 50
    found = await items.list_items(
        pool,
        topic_id=topic_id,
        source_id=_int_param(request, "source"),
        since=_date_param(request, "since"),
        unsent=request.query.get("unsent") in ("1", "true", "yes"),
        search=(request.query.get("q") or None),
        include_hidden=request.query.get("hidden") in ("1", "true", "yes"),
        after=after,
        limit=min(limit, 200),
    )
    next_cursor = None
    if len(found) == min(limit, 200):
        next_cursor = items.items_cursor(found[-1])
    return web.json_response({"items": found, "next_cursor": next_cursor}, dumps=dumps_json)


async def edit_item_handler(request: web.Request) -> web.Response:
    data = await json_object(request)
    fields = read_fields(
        data,
        {"title": str, "summary_html": str, "hidden": bool, "topics": ListOf(str)},
        "item",
    )
    item_id = path_id(request, "item_id")
    await items.edit_item(
        request.app[keys.pool_key],
        item_id,
        title=fields["title"],
        summary_html=fields["summary_html"],
        topics=fields["topics"],
        hidden=fields["hidden"],
    )
    return web.json_response({"item_id": item_id, "status": "saved"})


def path_id(request: web.Request, name: str) -> int:
    number = whole_number(request.match_info[name])
    if number is None:
        raise InvalidInput(f"invalid {name}", {name: "a positive integer"})
    return number


async def list_feeds_handler(request: web.Request) -> web.Response:
    return web.json_response(
        {"feeds": await feeds.list_sources(request.app[keys.pool_key])}, dumps=dumps_json
    )


@admin_key
async def create_feed_handler(request: web.Request) -> web.Response:
    data = await json_object(request)
    url = data.get("url")
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("invalid feed source", {"url": "required"})
    fields = read_fields(data, SOURCE_FIELDS, "feed source")
    source = await feeds.create_source(
        request.app[keys.pool_key],
        url=url.strip(),
        name=fields["name"] or "",
        topics=fields["topics"],
        category_rules=fields["category_rules"],
        poll_interval=fields["poll_interval"] or 900,
    )
    return web.json_response(source, status=201, dumps=dumps_json)


@admin_key
async def update_feed_handler(request: web.Request) -> web.Response:
    data = await json_object(request)
    fields = read_fields(data, SOURCE_FIELDS, "feed source")
    source = await feeds.update_source(
        request.app[keys.pool_key], path_id(request, "source_id"), **fields
    )
    return web.json_response(source, dumps=dumps_json)


@admin_key
async def delete_feed_handler(request: web.Request) -> web.Response:
    await feeds.delete_source(request.app[keys.pool_key], path_id(request, "source_id"))
    return web.Response(status=204)


@admin_key
async def poll_feed_handler(request: web.Request) -> web.Response:
    settings = request.app[keys.settings_key]
    async with make_session(allow_private=settings.feed_allow_private) as session:
        results = await feeds.poll_now(
            request.app[keys.pool_key],
            session,
            path_id(request, "source_id"),
            allow_private=settings.feed_allow_private,
            trusted=settings.feed_trusted_urls,
        )
    return web.json_response({"polls": [asdict(r) for r in results]})
