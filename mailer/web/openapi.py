"""The OpenAPI 3 description of /api/v1, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mailer import __version__
from mailer.web import api_feedback, keys

_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "status": {"type": "integer"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "required": ["status", "message"],
        }
    },
}
_OBJECT = {"type": "object", "additionalProperties": True}


def _op(summary: str, *, body: dict[str, Any] | None = None, ok: int = 200,
        params: tuple[str, ...] = (), query: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in params
        ]
        + [{"name": q, "in": "query", "schema": {"type": "string"}} for q in query],
        "responses": {
            str(ok): {"description": "OK", "content": {"application/json": {"schema": _OBJECT}}},
            "400": {"$ref": "#/components/responses/Error"},
            "401": {"$ref": "#/components/responses/Error"},
            "404": {"$ref": "#/components/responses/Error"},
            "409": {"$ref": "#/components/responses/Error"},
        },
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object", "properties": body}}},
        }
    return operation


def _file_op(
    summary: str, *, params: tuple[str, ...] = (), query: tuple[str, ...] = ()
) -> dict[str, Any]:
    operation = _op(summary, params=params, query=query)
    operation["responses"]["200"] = {
        "description": "A file, streamed",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
    return operation


def _import_op() -> dict[str, Any]:
    """The upload: the file as the body (or a multipart form whose fields come before the
    file); options in the query string."""
    options = (
        "mode",
        "source",
        "consent_text",
        "topics",
        "unknown_topics",
        "dry_run",
        "format",
        "delimiter",
        "encoding",
        "column",
        "confirm_rate",
        "wait",
    )
    operation = _op(
        "Import subscribers from a CSV or JSON Lines file (mode=consented with "
        "source, or mode=opt_in); waits up to `wait` seconds for the summary",
        query=options,
    )
    operation["requestBody"] = {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "mode": {"type": "string"},
                        "source": {"type": "string"},
                    },
                }
            },
        },
    }
    operation["responses"]["202"] = {"description": "Still importing: follow Location"}
    operation["responses"]["413"] = {"$ref": "#/components/responses/Error"}
    operation["responses"]["415"] = {"$ref": "#/components/responses/Error"}
    return operation  # fmt: skip


_S = {"type": "string"}
_I = {"type": "integer"}
_B = {"type": "boolean"}
_LS = {"type": "array", "items": _S}
_LI = {"type": "array", "items": _I}

PATHS: dict[str, dict[str, Any]] = {
    "/topics": {
        "get": _op("List topics"),
        "post": _op("Create a topic", ok=201, body={"name": _S, "slug": _S, "description": _S,
                                                     "public": _B, "position": _I}),
    },
    "/topics/{slug}": {
        "patch": _op("Change a topic", params=("slug",),
                     body={"name": _S, "description": _S, "public": _B, "position": _I}),
        "delete": _op("Remove a topic", params=("slug",), ok=204),
    },
    "/feeds": {
        "get": _op("List feed sources"),
        "post": _op("Add a feed source", ok=201,
                    body={"url": _S, "name": _S, "topics": _LS, "poll_interval": _I,
                          "category_rules": {"type": "object", "additionalProperties": _LS}}),
    },
    "/feeds/{source_id}": {
        "patch": _op("Change, pause or resume a source", params=("source_id",),
                     body={"url": _S, "name": _S, "topics": _LS, "poll_interval": _I, "paused": _B,
                           "category_rules": _OBJECT}),
        "delete": _op("Remove a source (its items stay)", params=("source_id",), ok=204),
    },
    "/feeds/{source_id}/poll": {"post": _op("Poll a source now", params=("source_id",))},
    "/items": {
        "get": _op("List items, newest first", query=("topic", "source", "since", "unsent", "q",
                                                       "hidden", "limit", "cursor")),
    },
    "/items/{item_id}": {
        "patch": _op("Edit or hide an item", params=("item_id",),
                     body={"title": _S, "summary_html": _S, "topics": _LS, "hidden": _B}),
    },
    "/series": {
        "get": _op("List digest series"),
        "post": _op("Create a series", ok=201,
                    body={"name": _S, "slug": _S, "description": _S, "cron": _S,
                          "timezone": _S, "mode": {"enum": ["draft", "auto"]}, "is_default": _B}),
    },
    "/series/{series_id}": {
        "patch": _op("Change a series", params=("series_id",),
                     body={"name": _S, "cron": _S, "timezone": _S, "mode": _S,
                           "is_default": _B, "active": _B}),
        "delete": _op("Remove a series (409 while a digest of it is unfinished)",
                      params=("series_id",), ok=204),
    },
    "/digests": {
        "get": _op("List digests", query=("status",)),
        "post": _op("Assemble a draft digest for a series", ok=201,
                    body={"series_id": _I, "subject": _S}),
    },
    "/digests/{mailing_id}": {
        "get": _op("A digest", params=("mailing_id",)),
        "patch": _op("Edit subject, intro (Markdown) and items (ordered ids)",
                     params=("mailing_id",), body={"subject": _S, "intro_md": _S, "items": _LI}),
    },
    "/digests/{mailing_id}/schedule": {
        "post": _op("Schedule a digest", params=("mailing_id",), body={"send_at": _S}),
    },
    "/digests/{mailing_id}/send-now": {"post": _op("Send now", params=("mailing_id",))},
    "/digests/{mailing_id}/cancel": {"post": _op("Cancel", params=("mailing_id",))},
    "/digests/{mailing_id}/preview": {
        "get": _op("Preview as a subscriber would get it", params=("mailing_id",),
                   query=("subscriber", "format")),
    },
    "/digests/{mailing_id}/test-send": {
        "post": _op("Send a test to some addresses", params=("mailing_id",), ok=202,
                    body={"addresses": _LS}),
    },
    "/digests/{mailing_id}/stats": {"get": _op("Delivery progress, bounce and complaint rates",
                                               params=("mailing_id",))},
    "/mailings/{mailing_id}/progress": {"get": _op("Delivery progress", params=("mailing_id",))},
    "/mailings/{mailing_id}/pause": {"post": _op("Pause sending", params=("mailing_id",))},
    "/mailings/{mailing_id}/resume": {"post": _op("Resume sending", params=("mailing_id",))},
    "/mailings/{mailing_id}/cancel": {"post": _op("Cancel sending", params=("mailing_id",))},
    "/alerts": {
        "get": _op("List alerts, newest first", query=("status",)),
        "post": _op("Draft an alert of one item: answers its recipient count to confirm",
                    ok=201, body={"item_id": _I}),
    },
    "/alerts/{alert_id}": {"get": _op("An alert with its progress", params=("alert_id",))},
    "/alerts/{alert_id}/send": {
        "post": _op("Send a draft alert: `confirm` must be its recipient count", ok=202,
                    params=("alert_id",), body={"confirm": _I}),
    },
    "/alerts/{alert_id}/cancel": {"post": _op("Cancel an alert", params=("alert_id",))},
    "/alerts/{alert_id}/preview": {
        "get": _op("Preview an alert", params=("alert_id",), query=("format",)),
    },
    "/items/{item_id}/corrections": {
        "post": _op("Correct or retract a sent item and draft the notice to its receivers",
                    ok=201, params=("item_id",),
                    body={"note": _S, "retract": _B, "title": _S, "summary_html": _S}),
    },
    "/items/{item_id}/audit": {
        "get": _op("Who received an item, when, through which mailings; its corrections",
                   params=("item_id",)),
    },
    "/corrections": {"get": _op("List corrections", query=("item", "status"))},
    "/corrections/{correction_id}": {
        "get": _op("A correction and its notice", params=("correction_id",)),
    },
    "/corrections/{correction_id}/send": {
        "post": _op("Send a correction notice: `confirm` must be its recipient count", ok=202,
                    params=("correction_id",), body={"confirm": _I}),
    },
    "/corrections/{correction_id}/cancel": {
        "post": _op("Cancel a correction notice (the correction stays)",
                    params=("correction_id",)),
    },
    "/corrections/{correction_id}/preview": {
        "get": _op("Preview a correction notice", params=("correction_id",), query=("format",)),
    },
    "/subscribers/data": {"get": _op("Everything held about an address", query=("email",))},
    "/subscribers/erase": {"post": _op("Erase an address's data", body={"email": _S})},
    "/subscribers": {
        "get": _op("Search subscribers (address fragment, status, topic slug, signup date "
                   "since/until), newest first; pass next_cursor as cursor for the next page",
                   query=("q", "status", "topic", "since", "until", "limit", "cursor")),
    },
    "/subscribers/export": {
        "get": _file_op("Export subscribers, streamed (CSV with a BOM, or JSON Lines)",
                        query=("format", "status", "topic")),
    },
    "/subscribers/import": {"post": _import_op()},
    "/subscribers/imports/{import_id}": {
        "get": _op("An import: status (running, done, failed, interrupted), progress, summary",
                   params=("import_id",)),
    },
    "/subscribers/imports/{import_id}/rejects": {
        "get": _file_op("The rows an import did not apply: the file's columns plus reason "
                        "and line", params=("import_id",)),
    },
}  # fmt: skip
PATHS.update(api_feedback.openapi_paths())  # suppressions, bounces, rates, outbound webhooks


def document(base_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "mailer editor API",
            "version": __version__,
            "description": "Topics, feeds, items, series, digests, alerts, corrections, "
            "delivery control, suppressions, bounces, deliverability and outbound webhooks. "
            "Every call needs `Authorization: Bearer <key>` (`mailer api-keys create NAME`).",
        },
        "servers": [{"url": f"{base_url}/api/v1"}],
        "security": [{"apiKey": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": _ERROR},
            "responses": {
                "Error": {
                    "description": "The stable error shape",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
            },
        },
    }


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document(request.app[keys.settings_key].base_url))
