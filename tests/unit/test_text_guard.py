"""Where the text guard finds a NUL in a body, and how it names the field."""

import json

from mailer.web.text_guard import _in_body

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def test_json_members_lists_and_keys_are_named_by_their_path() -> None:
    def where(document: object) -> str | None:
        return _in_body(JSON, json.dumps(document).encode())

    assert where({"name": "a\x00"}) == "name"
    assert where({"filters": {"topic": "x\x00"}}) == "filters.topic"
    assert where({"topics": ["ok", "b\x00"]}) == "topics[1]"
    assert where({"ke\x00y": "v"}) == "key"
    assert where(["a", "\x00"]) == "body[1]"
    assert where({"name": "\\u0000 spelled out"}) is None  # a backslash, not a NUL
    assert where({"name": "fine", "n": 1}) is None


def test_form_fields_and_raw_bytes() -> None:
    assert _in_body(FORM, b"email=a%00b&name=x") == "email"
    assert _in_body(FORM, b"email=a&name=%00") == "name"
    assert _in_body(FORM, b"email=a%2500b") is None  # "%00" as text
    assert _in_body(JSON, b'{"name": "a\x00b"}') is None  # not JSON: the handler says why
