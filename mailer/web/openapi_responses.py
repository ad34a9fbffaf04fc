"""What each /api/v1 operation answers on success, as JSON Schema: the top-level shape with
its required keys and their types (records may carry more keys than listed; none is an open
`{}`). Applied to the paths in web/openapi.py; tests/unit/test_openapi.py checks that every
operation has one and schemathesis checks the live answers against them."""

from __future__ import annotations

from typing import Any

from mailer.web.openapi_schema import ID

INT = {"type": "integer"}
STR = {"type": "string"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
NULL_STR = {"type": "string", "nullable": True}
NULL_INT = {"type": "integer", "nullable": True}


def record(**props: Any) -> dict[str, Any]:
    """An object with these keys, each required and typed; other keys may follow."""
    return {"type": "object", "required": sorted(props), "properties": props}


def listing(key: str, item: dict[str, Any], *, cursor: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {key: {"type": "array", "items": item}}
    if cursor:
        props["next_cursor"] = NULL_STR
    return record(**props)


TOPIC = record(
    topic_id=ID, slug=STR, name=STR, description=STR, public=BOOL, position=INT
)  # fmt: skip
SOURCE = record(source_id=ID, url=STR, name=STR)
ITEM = record(item_id=ID, title=STR)
SERIES = record(series_id=ID, name=STR, slug=STR, cron=STR, timezone=STR)
DIGEST = record(mailing_id=ID, status=STR)
PROGRESS = record(
    mailing_id=ID, status=STR, counts={"type": "object", "additionalProperties": INT},
    total=INT, done=INT, rate_per_second=NUM, eta_seconds=NULL_INT,
    started_at=NULL_STR, finished_at=NULL_STR,
)  # fmt: skip
ALERT = record(alert_id=ID, status=STR)
CORRECTION = record(correction_id=ID, status=STR)
PREVIEW = record(subject=STR, html=STR, text=STR)
HOOK = record(endpoint_id=ID, url=STR)
IMPORT = record(import_id=ID, status=STR)
COUNT = {"type": "integer", "minimum": 0}
COUNTS = {"clicks": COUNT, "filtered": COUNT}  # readers' clicks; scanners' apart
TOTAL = record(**COUNTS)
CLICKED = record(mailing_id=ID, kind=STR, **COUNTS)


def LIST_OF(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


def draft(what: str) -> dict[str, Any]:
    """A drafted alert or correction notice (`confirm` says how to send it)."""
    return record(**{f"{what}_id": ID})


def sending(what: str) -> dict[str, Any]:
    return record(**{f"{what}_id": ID, "status": STR, "recipients": INT})


QUEUED = record(queued=INT)  # how many test mails
QUEUED_IDS = record(queued={"type": "array", "items": ID})  # the hook deliveries sent again

# (path, method) -> the success answer's schema.
RESPONSES: dict[tuple[str, str], dict[str, Any]] = {
    ("/topics", "get"): listing("topics", TOPIC),
    ("/topics", "post"): TOPIC,
    ("/topics/{slug}", "patch"): TOPIC,
    ("/feeds", "get"): listing("feeds", SOURCE),
    ("/feeds", "post"): SOURCE,
    ("/feeds/{source_id}", "patch"): SOURCE,
    ("/feeds/{source_id}/poll", "post"): listing("polls", {"type": "object"}),
    ("/items", "get"): listing("items", ITEM, cursor=True),
    ("/items/{item_id}", "patch"): record(item_id=ID, status=STR),
    ("/series", "get"): listing("series", SERIES),
    ("/series", "post"): SERIES,
    ("/series/{series_id}", "patch"): SERIES,
    ("/digests", "get"): listing("digests", DIGEST),
    ("/digests", "post"): DIGEST,
    ("/digests/{mailing_id}", "get"): DIGEST,
    ("/digests/{mailing_id}", "patch"): DIGEST,
    ("/digests/{mailing_id}/schedule", "post"): DIGEST,
    ("/digests/{mailing_id}/send-now", "post"): DIGEST,
    ("/digests/{mailing_id}/cancel", "post"): DIGEST,
    ("/digests/{mailing_id}/preview", "get"): PREVIEW,
    ("/digests/{mailing_id}/test-send", "post"): QUEUED,
    ("/digests/{mailing_id}/stats", "get"): PROGRESS,
    ("/mailings/{mailing_id}/progress", "get"): PROGRESS,
    ("/mailings/{mailing_id}/pause", "post"): PROGRESS,
    ("/mailings/{mailing_id}/resume", "post"): PROGRESS,
    ("/mailings/{mailing_id}/cancel", "post"): PROGRESS,
    ("/alerts", "get"): listing("alerts", ALERT),
    ("/alerts", "post"): draft("alert"),
    ("/alerts/{alert_id}", "get"): ALERT,
    ("/alerts/{alert_id}/send", "post"): sending("alert"),
    ("/alerts/{alert_id}/cancel", "post"): ALERT,
    ("/alerts/{alert_id}/preview", "get"): PREVIEW,
    ("/items/{item_id}/corrections", "post"): draft("correction"),
    ("/items/{item_id}/audit", "get"): record(
        item={"type": "object"}, mailings={"type": "array", "items": {"type": "object"}}
    ),
    ("/repermission", "post"): record(campaign_id=ID, status=STR, recipients=INT),
    ("/repermission/{campaign_id}", "get"): record(
        campaign_id=ID,
        status=STR,
        recipients=INT,
        asked=INT,
        sent=INT,
        answered=INT,
        no_answer=INT,
    ),
    ("/repermission/{campaign_id}/send", "post"): record(
        campaign_id=ID, status=STR, recipients=INT
    ),  # and send_at, when scheduled
    ("/repermission/{campaign_id}/remove", "post"): record(campaign_id=ID, status=STR, removed=INT),
    ("/corrections", "get"): listing("corrections", CORRECTION),
    ("/corrections/{correction_id}", "get"): CORRECTION,
    ("/corrections/{correction_id}/send", "post"): sending("correction"),
    ("/corrections/{correction_id}/cancel", "post"): CORRECTION,
    ("/corrections/{correction_id}/preview", "get"): PREVIEW,
    ("/subscribers/data", "get"): {"type": "object", "minProperties": 1},
    ("/subscribers/erase", "post"): record(status={"type": "string", "enum": ["erased"]}),
    ("/subscribers", "get"): listing("subscribers", {"type": "object"}, cursor=True),
    ("/subscribers/import", "post"): IMPORT,
    ("/subscribers/imports/{import_id}", "get"): IMPORT,
    ("/suppressions", "get"): listing("suppressions", {"type": "object"}, cursor=True),
    ("/suppressions", "post"): record(status={"type": "string", "enum": ["suppressed"]}),
    ("/suppressions/lift", "post"): {"type": "object", "minProperties": 1},
    ("/bounces", "get"): listing("bounces", {"type": "object"}),
    ("/bounces/reports", "get"): listing("reports", {"type": "object"}),
    ("/bounces/reports/{report_id}", "get"): record(report_id=ID),
    ("/deliverability", "get"): {"type": "object", "minProperties": 1},
    ("/hooks", "get"): listing("hooks", HOOK),
    ("/hooks", "post"): HOOK,
    ("/hooks/{endpoint_id}", "get"): HOOK,
    ("/hooks/{endpoint_id}", "patch"): HOOK,
    ("/hooks/{endpoint_id}/deliveries", "get"): listing("deliveries", {"type": "object"}),
    ("/hooks/{endpoint_id}/deliveries/{hook_delivery_id}/resend", "post"): QUEUED_IDS,
    ("/hooks/{endpoint_id}/resend-failed", "post"): QUEUED_IDS,
    ("/clicks", "get"): listing("mailings", CLICKED),
    ("/clicks/mailings/{mailing_id}", "get"): record(
        mailing_id=ID,
        kind=STR,
        total=TOTAL,
        items=LIST_OF(record(item_id=ID, **COUNTS)),
        topics=LIST_OF(record(topic=STR, **COUNTS)),
        days=LIST_OF(record(day=STR, **COUNTS)),
    ),
    ("/clicks/items/{item_id}", "get"): record(
        item_id=ID,
        title=STR,
        total=TOTAL,
        mailings=LIST_OF(CLICKED),
        days=LIST_OF(record(day=STR, **COUNTS)),
    ),
}

# Answers that are not JSON: previews as ?format=html or text, files streamed.
PREVIEWS = {"/digests/{mailing_id}/preview", "/alerts/{alert_id}/preview",
            "/corrections/{correction_id}/preview"}  # fmt: skip
# A draft made again answers 200 with the same draft (201 when made).
DRAFTS = {("/alerts", "post"), ("/items/{item_id}/corrections", "post")}


def describe_answers(paths: dict[str, dict[str, Any]]) -> None:
    """Put each operation's success schema into `paths` (in place)."""
    for (path, method), schema in RESPONSES.items():
        responses = paths[path][method]["responses"]
        content: dict[str, Any] = {"application/json": {"schema": schema}}
        if path in PREVIEWS:
            content["text/html"] = {"schema": STR}
            content["text/plain"] = {"schema": STR}
        if (path, method) in DRAFTS:
            responses["200"] = {"description": "Drafted already"}
        for code, answer in responses.items():
            if code.startswith("2") and code != "204":
                answer["content"] = content
