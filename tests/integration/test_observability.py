"""What an operator watches: /metrics (checked by promtool), the access log, request ids."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailer.logs import JsonFormatter
from mailer.metrics import Metrics
from mailer.signatures import HEADER, sign
from mailer.web.app import create_app
from tests.support.factories import add_subscribers, digest_mailing, engine_settings
from tests.support.helpers import ClientFactory
from tests.support.mailings import start_sending

SECRET = "observability-webhook-secret-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def promtool_problems(text: str) -> str:
    """What `promtool check metrics` says of an exposition ('' when clean)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: `make test` installs it (Debian's prometheus package)"
    run = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    return (run.stdout + run.stderr).strip() if run.returncode else ""


async def _seed(pool: asyncpg.Pool) -> None:
    ids = await add_subscribers(pool, 3)
    await start_sending(pool, await digest_mailing(pool))  # 3 queued bulk deliveries
    await pool.execute(
        """INSERT INTO deliveries (subscriber_id, kind, recipient, status, created_at)
           VALUES ($1, 'confirm', 'a@example.org', 'queued', now() - interval '90 seconds'),
                  ($1, 'confirm', 'b@example.org', 'queued', now()),
                  ($1, 'confirm', 'c@example.org', 'deferred', now())""",
        ids[0],
    )
    await pool.execute(
        """INSERT INTO bounces (subscriber_id, kind, source, created_at) VALUES
           ($1, 'hard', 'smtp', now() - interval '2 hours'),
           ($1, 'hard', 'smtp', now()), ($1, 'complaint', 'arf', now())""",
        ids[1],
    )
    await pool.execute(
        """INSERT INTO feed_sources (url, name, failures, last_error) VALUES
           ('https://a.example.org/feed', 'A', 2, 'HTTP 500'),
           ('https://b.example.org/feed', 'B', 0, NULL)"""
    )


async def test_metrics_pass_promtool_and_show_the_database_wide_gauges(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await _seed(pool)
    client = await aiohttp_client(create_app(engine_settings(tmp_path), pool))
    token = "secret-looking-token-abc"
    assert (await client.get(f"/confirm/{token}")).status in (400, 404, 410)
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/no/such/page")).status == 404
    text = await (await client.get("/metrics")).text()

    assert promtool_problems(text) == ""
    assert token not in text
    got = samples(text)
    assert got[("mailer_metrics_database_up", ())] == 1
    assert got[("mailer_queue_depth", (("priority", "transactional"), ("state", "queued")))] == 2
    assert got[("mailer_queue_depth", (("priority", "transactional"), ("state", "deferred")))] == 1
    assert got[("mailer_queue_depth", (("priority", "transactional"), ("state", "sending")))] == 0
    bulk = [
        value
        for (name, labels), value in got.items()
        if name == "mailer_queue_depth" and dict(labels)["priority"] != "transactional"
    ]
    assert sum(bulk) == 3
    transactional = (("priority", "transactional"), ("state", "queued"))
    assert got[("mailer_queue_oldest_age_seconds", transactional)] >= 89
    assert got[("mailer_bounces_last_hour", (("kind", "hard"),))] == 1  # not the 2-hour-old one
    assert got[("mailer_bounces_last_hour", (("kind", "complaint"),))] == 1
    assert got[("mailer_bounces_last_hour", (("kind", "soft"),))] == 0
    assert got[("mailer_feed_sources", (("state", "failing"),))] == 1
    assert got[("mailer_feed_sources", (("state", "ok"),))] >= 1
    assert got[("mailer_db_pool_connections", (("state", "in_use"),))] >= 0
    assert got[("mailer_db_pool_max_connections", ())] == 5
    assert ("process_cpu_seconds_total", ()) in got
    confirm = (("method", "GET"), ("route", "/confirm/{token}"))
    assert any(n == "mailer_http_requests_total" and labels[:2] == confirm for n, labels in got)
    health = (("method", "GET"), ("route", "/healthz"), ("status", "200"))
    assert got[("mailer_http_requests_total", health)] == 1
    unmatched = (("method", "GET"), ("route", "unmatched"), ("status", "404"))
    assert got[("mailer_http_requests_total", unmatched)] == 1
    health_count = (("method", "GET"), ("route", "/healthz"))
    assert got[("mailer_http_request_duration_seconds_count", health_count)] == 1


async def test_a_database_that_is_gone_leaves_process_metrics_and_says_so(
    db_url: str, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    from mailer.db import open_pool

    pool = await open_pool(db_url)
    await pool.close()
    client = await aiohttp_client(create_app(engine_settings(tmp_path), pool))
    response = await client.get("/metrics")
    assert response.status == 200
    got = samples(await response.text())
    assert got[("mailer_metrics_database_up", ())] == 0
    assert ("process_cpu_seconds_total", ()) in got


async def test_every_request_gets_one_access_line_under_a_request_id(
    pool: asyncpg.Pool,
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = await aiohttp_client(create_app(engine_settings(tmp_path), pool))
    caplog.set_level(logging.INFO, logger="mailer.access")
    token = "personal-token-xyz"

    given = await client.get(f"/preferences/{token}", headers={"X-Request-Id": "edge-42.a"})
    assert given.headers["X-Request-Id"] == "edge-42.a"
    made = await client.get("/healthz")
    assert len(made.headers["X-Request-Id"]) == 32
    odd = 'a "b" status=500 ' + "x" * 200  # spaces, quotes, too long: not taken
    refused = await client.get("/healthz", headers={"X-Request-Id": odd})
    assert refused.headers["X-Request-Id"] != odd
    assert len(refused.headers["X-Request-Id"]) == 32

    lines = [r for r in caplog.records if r.name == "mailer.access"]
    assert len(lines) == 3
    first = lines[0].__dict__
    assert first["request_id"] == "edge-42.a"
    assert first["route"] == "/preferences/{token}"
    assert first["method"] == "GET"
    assert first["status"] == given.status
    assert first["duration_ms"] >= 0
    assert lines[1].__dict__["request_id"] == made.headers["X-Request-Id"]
    for record in lines:
        rendered = JsonFormatter().format(record)
        assert token not in rendered
        assert json.loads(rendered)["request_id"] == record.__dict__["request_id"]


async def test_every_refused_webhook_is_logged_with_its_reason(
    pool: asyncpg.Pool,
    aiohttp_client: ClientFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = replace(engine_settings(tmp_path), webhook_secrets=(SECRET,))
    client = await aiohttp_client(create_app(settings, pool))
    caplog.set_level(logging.INFO, logger="mailer.access")
    body = json.dumps({"email": "reader@example.org"}).encode()

    forged = await client.post(
        "/webhooks/signup", data=body, headers={HEADER: sign("not-our-secret", body)}
    )
    assert forged.status == 401
    unsigned = await client.post(
        "/webhooks/bounce", data=b"{}", headers={"Content-Type": "application/json"}
    )
    assert unsigned.status == 401
    accepted = await client.post(
        "/webhooks/signup",
        data=body,
        headers={HEADER: sign(SECRET, body), "Content-Type": "application/json"},
    )
    assert accepted.status == 202

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.__dict__["route"] for r in warnings] == ["/webhooks/signup", "/webhooks/bounce"]
    for record, response in zip(warnings, (forged, unsigned), strict=True):
        reason = (await response.json())["error"]["message"]
        assert reason
        assert record.__dict__["error"] == reason
        assert reason in record.getMessage()
        assert record.__dict__["request_id"] == response.headers["X-Request-Id"]
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert [(r.__dict__["route"], r.__dict__["status"]) for r in infos] == [
        ("/webhooks/signup", 202)
    ]


async def test_scrapes_close_together_share_one_read_of_the_database(pool: asyncpg.Pool) -> None:
    metrics = Metrics()
    queued = ("mailer_queue_depth", {"priority": "transactional", "state": "queued"})
    await metrics.refresh(pool)
    assert metrics.registry.get_sample_value(*queued) == 0
    assert (metrics.registry.get_sample_value("mailer_metrics_database_seconds") or 0) > 0
    await pool.execute(
        "INSERT INTO deliveries (kind, recipient) VALUES ('confirm', 'new@example.org')"
    )
    await metrics.refresh(pool)  # within REFRESH_SECONDS: the last read stands
    assert metrics.registry.get_sample_value(*queued) == 0
    await metrics.refresh(pool, max_age=0)
    assert metrics.registry.get_sample_value(*queued) == 1
