"""The OpenAPI 3 description of /api/v1, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mailer import __version__
from mailer.web import api_clicks, api_feedback, keys
from mailer.web.api import SOURCE_FIELDS, TOPIC_FIELDS, spec_schema
from mailer.web.openapi_responses import describe_answers
from mailer.web.openapi_schema import ERROR, LI, LS, OBJECT, B, I, S, file_op, op


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
    operation = op(
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


PATHS: dict[str, dict[str, Any]] = {
    "/topics": {
        "get": op("List topics"),
        "post": op("Create a topic", ok=201, body={"slug": S} | spec_schema(TOPIC_FIELDS)),
    },
    "/topics/{slug}": {
        "patch": op("Change a topic", params=("slug",), body=spec_schema(TOPIC_FIELDS)),
        "delete": op("Remove a topic", params=("slug",), ok=204),
    },
    "/feeds": {
        "get": op("List feed sources"),
        "post": op("Add a feed source", ok=201,
                    body=spec_schema(SOURCE_FIELDS)),
    },
    "/feeds/{source_id}": {
        "patch": op("Change, pause or resume a source", params=("source_id",),
                     body=spec_schema(SOURCE_FIELDS)),
        "delete": op("Remove a source (its items stay)", params=("source_id",), ok=204),
    },
    "/feeds/{source_id}/poll": {"post": op("Poll a source now", params=("source_id",))},
    "/items": {
        "get": op("List items, newest first", query=("topic", "source", "since", "unsent", "q",
                                                       "hidden", "limit", "cursor")),
    },
    "/items/{item_id}": {
        "patch": op("Edit or hide an item", params=("item_id",),
                     body={"title": S, "summary_html": S, "topics": LS, "hidden": B}),
    },
    "/series": {
        "get": op("List digest series"),
        "post": op("Create a series", ok=201,
                    body={"name": S, "slug": S, "description": S, "cron": S,
                          "timezone": S, "mode": {"enum": ["draft", "auto"]}, "is_default": B}),
    },
    "/series/{series_id}": {
        "patch": op("Change a series", params=("series_id",),
                     body={"name": S, "cron": S, "timezone": S, "mode": S,
                           "is_default": B, "active": B}),
        "delete": op("Remove a series (409 while a digest of it is unfinished)",
                      params=("series_id",), ok=204),
    },
    "/digests": {
        "get": op("List digests", query=("status",)),
        "post": op("Assemble a draft digest for a series", ok=201,
                    body={"series_id": I, "subject": S}),
    },
    "/digests/{mailing_id}": {
        "get": op("A digest", params=("mailing_id",)),
        "patch": op("Edit subject, intro (Markdown), items (ordered ids) and their grouping, and "
                    "the subject and intro per reader language (texts: {\"es\": {\"subject\", "
                    "\"intro_md\"}})",
                     params=("mailing_id",),
                     body={"subject": S, "intro_md": S, "items": LI, "texts": OBJECT,
                           "grouping": {"enum": ["topic", "order"]}}),
    },
    "/digests/{mailing_id}/schedule": {
        "post": op("Schedule a digest", params=("mailing_id",), body={"send_at": S}),
    },
    "/digests/{mailing_id}/send-now": {"post": op("Send now", params=("mailing_id",))},
    "/digests/{mailing_id}/cancel": {"post": op("Cancel", params=("mailing_id",))},
    "/digests/{mailing_id}/preview": {
        "get": op("Preview as a subscriber would get it", params=("mailing_id",),
                   query=("subscriber", "format", "language")),
    },
    "/digests/{mailing_id}/test-send": {
        "post": op("Send a test to some addresses", params=("mailing_id",), ok=202,
                    body={"addresses": LS}),
    },
    "/digests/{mailing_id}/stats": {"get": op("Delivery progress, bounce and complaint rates",
                                               params=("mailing_id",))},
    "/mailings/{mailing_id}/progress": {"get": op("Delivery progress", params=("mailing_id",))},
    "/mailings/{mailing_id}/pause": {"post": op("Pause sending", params=("mailing_id",))},
    "/mailings/{mailing_id}/resume": {"post": op("Resume sending", params=("mailing_id",))},
    "/mailings/{mailing_id}/cancel": {"post": op("Cancel sending", params=("mailing_id",))},
    "/alerts": {
        "get": op("List alerts, newest first", query=("status",)),
        "post": op("Draft an alert of one item: answers its recipient count to confirm",
                    ok=201, body={"item_id": I}),
    },
    "/alerts/{alert_id}": {"get": op("An alert with its progress", params=("alert_id",))},
    "/alerts/{alert_id}/send": {
        "post": op("Send a draft alert: `confirm` must be its recipient count", ok=202,
                    params=("alert_id",), body={"confirm": I}),
    },
    "/alerts/{alert_id}/cancel": {"post": op("Cancel an alert", params=("alert_id",))},
    "/alerts/{alert_id}/preview": {
        "get": op("Preview an alert", params=("alert_id",), query=("format",)),
    },
    "/items/{item_id}/corrections": {
        "post": op("Correct or retract a sent item and draft the notice to its receivers",
                    ok=201, params=("item_id",),
                    body={"note": S, "retract": B, "title": S, "summary_html": S}),
    },
    "/items/{item_id}/audit": {
        "get": op("Who received an item, when, through which mailings; its corrections",
                   params=("item_id",)),
    },
    "/repermission": {
        "post": op("Draft a re-permission campaign for readers who confirmed more than "
                    "`months` ago, `days` to answer: answers the count to confirm", ok=201,
                    body={"months": I, "days": I}),
    },
    "/repermission/{campaign_id}": {
        "get": op("A campaign with its counts: asked, sent, answered, no answer",
                   params=("campaign_id",)),
    },
    "/repermission/{campaign_id}/send": {
        "post": op("Send a draft campaign, now or at `send_at` (ISO 8601 with an offset): "
                    "`confirm` must be its recipient count", ok=202,
                    params=("campaign_id",), body={"confirm": I, "send_at": S}),
    },
    "/repermission/{campaign_id}/remove": {
        "post": op("After the answer window, unsubscribe those who did not answer: "
                    "`confirm` must be the no-answer count", params=("campaign_id",),
                    body={"confirm": I}),
    },
    "/corrections": {"get": op("List corrections", query=("item", "status"))},
    "/corrections/{correction_id}": {
        "get": op("A correction and its notice", params=("correction_id",)),
    },
    "/corrections/{correction_id}/send": {
        "post": op("Send a correction notice: `confirm` must be its recipient count", ok=202,
                    params=("correction_id",), body={"confirm": I}),
    },
    "/corrections/{correction_id}/cancel": {
        "post": op("Cancel a correction notice (the correction stays)",
                    params=("correction_id",)),
    },
    "/corrections/{correction_id}/preview": {
        "get": op("Preview a correction notice", params=("correction_id",), query=("format",)),
    },
    "/subscribers/data": {"get": op("Everything held about an address", query=("email",))},
    "/subscribers/erase": {"post": op("Erase an address's data", body={"email": S})},
    "/subscribers": {
        "get": op("Search subscribers (address fragment, status, topic slug, signup date "
                   "since/until), newest first; pass next_cursor as cursor for the next page",
                   query=("q", "status", "topic", "since", "until", "limit", "cursor")),
    },
    "/subscribers/export": {
        "get": file_op("Export subscribers, streamed (CSV with a BOM, or JSON Lines)",
                        query=("format", "status", "topic")),
    },
    "/subscribers/import": {"post": _import_op()},
    "/subscribers/imports/{import_id}": {
        "get": op("An import: status (running, done, failed, interrupted), progress, summary",
                   params=("import_id",)),
    },
    "/subscribers/imports/{import_id}/rejects": {
        "get": file_op("The rows an import did not apply: the file's columns plus reason "
                        "and line", params=("import_id",)),
    },
}  # fmt: skip
PATHS.update(api_feedback.openapi_paths())  # suppressions, bounces, rates, outbound webhooks
PATHS.update(api_clicks.openapi_paths())  # click counts
describe_answers(PATHS)  # each operation's success answer: web/openapi_responses.py


def document(base_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "mailer editor API",
            "version": __version__,
            "description": "Topics, feeds, items, series, digests, alerts, corrections, "
            "delivery control, suppressions, bounces, deliverability, click counts and outbound "
            "webhooks. "
            "Every call needs `Authorization: Bearer <key>` (`mailer api-keys create NAME`).",
        },
        "servers": [{"url": f"{base_url}/api/v1"}],
        "security": [{"apiKey": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR},
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
