"""The OpenAPI document describes answers and parameters precisely: no success answer is an
open object, ids are integers from 1, bodies come from the handlers' own field specs."""

from __future__ import annotations

from typing import Any

from mailer.web.openapi import PATHS, document
from mailer.web.openapi_schema import OBJECT


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(p, m, o) for p, methods in PATHS.items() for m, o in methods.items()]


def test_every_success_answer_has_its_own_schema() -> None:
    open_ones = []
    for path, method, operation in operations():
        for code, answer in operation["responses"].items():
            if not code.startswith("2"):
                continue
            if code == "204":
                assert "content" not in answer, (path, method)
                continue
            content = answer.get("content") or {}
            assert content, (path, method, code)
            for kind, media in content.items():
                schema = media.get("schema")
                if schema is None or schema is OBJECT or schema == OBJECT or schema == {}:
                    open_ones.append(f"{method.upper()} {path} {code} {kind}")
    assert open_ones == []
    assert len(operations()) > 60


def test_ids_are_integers_from_one_and_errors_are_documented() -> None:
    for path, method, operation in operations():
        for param in operation["parameters"]:
            if param["in"] == "path" and param["name"].endswith("_id"):
                assert param["schema"]["type"] == "integer", (path, param)
                assert param["schema"]["minimum"] == 1
        for code in ("400", "401", "403", "404", "409", "503"):
            assert code in operation["responses"], (method, path, code)
        if "requestBody" in operation:
            assert {"413", "415"} <= set(operation["responses"]), (method, path)
    limit = next(
        p for p in PATHS["/items"]["get"]["parameters"] if p["name"] == "limit"
    )  # fmt: skip
    assert limit["schema"]["type"] == "integer"


def test_the_document_serves_as_json() -> None:
    import json

    text = json.dumps(document("http://127.0.0.1:8080"))
    assert '"openapi": "3.0.3"' in text
