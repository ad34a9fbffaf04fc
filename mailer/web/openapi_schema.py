"""The pieces every OpenAPI operation of /api/v1 is built from: shared by web/openapi.py and
the handler modules that describe their own paths."""

from __future__ import annotations

from typing import Any

ERROR = {
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
OBJECT = {"type": "object", "additionalProperties": True}


def op(summary: str, *, body: dict[str, Any] | None = None, ok: int = 200,
        params: tuple[str, ...] = (), query: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in params
        ]
        + [{"name": q, "in": "query", "schema": {"type": "string"}} for q in query],
        "responses": {
            str(ok): {"description": "OK", "content": {"application/json": {"schema": OBJECT}}},
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


def file_op(
    summary: str, *, params: tuple[str, ...] = (), query: tuple[str, ...] = ()
) -> dict[str, Any]:
    operation = op(summary, params=params, query=query)
    operation["responses"]["200"] = {
        "description": "A file, streamed",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
    return operation


S = {"type": "string"}
I = {"type": "integer"}  # noqa: E741 -- S, I, B: the JSON types, short in the path tables
B = {"type": "boolean"}
LS = {"type": "array", "items": S}
LI = {"type": "array", "items": I}
