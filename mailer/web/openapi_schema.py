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
            {"name": p, "in": "path", "required": True, "schema": path_schema(p)} for p in params
        ]
        + [{"name": q, "in": "query", "schema": query_schema(q)} for q in query],
        "responses": {
            str(ok): {"description": "Done, nothing to answer"}
            if ok == 204
            else {"description": "OK", "content": {"application/json": {"schema": OBJECT}}},
            **{code: ERROR_REF for code in ERROR_CODES},
        },
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object", "properties": body}}},
        }
        # A body too large, or not JSON.
        operation["responses"].update({"413": ERROR_REF, "415": ERROR_REF})
    return operation


ERROR_REF = {"$ref": "#/components/responses/Error"}
# Every operation: bad input, no or a wrong key, an editor's key where an admin's is needed,
# not found, a conflict with the current state, the database unreachable (Retry-After).
ERROR_CODES = ("400", "401", "403", "404", "409", "503")


ID = {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}
# Query parameters whose type is narrower than a string (what the handlers accept).
QUERY_TYPES: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 500},
    "source": ID,
    "item": ID,
    "mailing": ID,
}


def query_schema(name: str) -> dict[str, Any]:
    return QUERY_TYPES.get(name, {"type": "string"})


def path_schema(name: str) -> dict[str, Any]:
    """Ids are whole numbers from 1 (what `path_id` accepts); slugs are strings."""
    if name.endswith("_id"):
        return ID
    return {"type": "string", "minLength": 1}


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
