import json
import logging
import os

from mailer.logs import JsonFormatter


def test_a_json_line_says_which_process_wrote_it() -> None:
    """serve with MAILER_WORKERS > 1 has its worker processes log to the same stderr."""
    record = logging.makeLogRecord({"name": "mailer.runtime.serve", "msg": "shutting down"})
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "shutting down"
    assert entry["pid"] == os.getpid()
