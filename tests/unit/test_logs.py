import json
import logging
import os

from mailer.logs import JsonFormatter, request_id_var


def test_a_json_line_says_which_process_wrote_it() -> None:
    """serve with MAILER_WORKERS > 1 has its worker processes log to the same stderr."""
    record = logging.makeLogRecord({"name": "mailer.runtime.serve", "msg": "shutting down"})
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "shutting down"
    assert entry["pid"] == os.getpid()


def test_lines_logged_while_serving_a_request_carry_its_id() -> None:
    record = logging.makeLogRecord({"name": "mailer.feedback", "msg": "something happened"})
    assert "request_id" not in json.loads(JsonFormatter().format(record))
    token = request_id_var.set("req-7")
    try:
        assert json.loads(JsonFormatter().format(record))["request_id"] == "req-7"
    finally:
        request_id_var.reset(token)
