"""Bounce webhooks: our generic signed JSON, Mailgun's and Postmark's native forms, each
with valid, invalid and replayed signatures, and a flood."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailer.config import Settings
from mailer.signatures import sign
from mailer.web.app import create_app
from tests.support.feedback_support import (
    Sent,
    event_types,
    feedback_settings,
    send_digest,
    subscriber_status,
    suppressed_reasons,
)
from tests.support.helpers import ClientFactory
from tests.support.smtp_sink import SmtpSink

Client = TestClient[web.Request, web.Application]
SECRET = "website-webhook-secret-1"
MAILGUN_KEY = "mailgun-signing-key-0123456789"
POSTMARK = "postmark:hook-password-123"
A, B, C = "reader0@example.org", "reader1@example.org", "reader2@example.org"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = feedback_settings(
        tmp_path,
        mailgun_signing_key=MAILGUN_KEY,
        postmark_auth=POSTMARK,
        webhook_rate_per_minute=40,
    )
    return replace(base, webhook_secrets=(SECRET,))


@pytest.fixture
async def sent(pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, settings: Settings) -> Sent:
    return await send_digest(pool, db_url, smtp_sink, settings, 3)


@pytest.fixture
async def client(pool: asyncpg.Pool, settings: Settings, aiohttp_client: ClientFactory) -> Client:
    return await aiohttp_client(create_app(settings, pool))


async def post_generic(client: Client, payload: Any, *, secret: str = SECRET, t: int | None = None,
                       body: bytes | None = None) -> Any:  # fmt: skip
    raw = body if body is not None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "Mailer-Signature": sign(secret, raw, t)}
    return await client.post("/webhooks/bounce", data=raw, headers=headers)


def mailgun_body(event_data: dict[str, Any], *, key: str = MAILGUN_KEY, token: str = "t" * 50,
                 timestamp: int | None = None) -> bytes:  # fmt: skip
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    return json.dumps(
        {"signature": {"timestamp": stamp, "token": token, "signature": signature},
         "event-data": event_data}
    ).encode()  # fmt: skip


async def post_json(client: Client, path: str, body: bytes, **headers: str) -> Any:
    return await client.post(
        path, data=body, headers={"Content-Type": "application/json", **headers}
    )


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


async def test_generic_webhook_valid_invalid_and_replayed(
    pool: asyncpg.Pool, sent: Sent, client: Client
) -> None:
    payload = {
        "events": [
            {"id": "evt-1", "type": "bounce", "bounce_type": "hard", "email": A,
             "envelope_from": sent.envelope(A), "detail": "550 5.1.1 user unknown"},
            {"id": "evt-2", "type": "complaint", "email": B, "message_id": sent.message_id(B)},
            {"id": "evt-3", "type": "bounce", "status": "4.2.2", "email": C},
        ]
    }  # fmt: skip
    wrong = await post_generic(client, payload, secret="not-the-secret-at-all")
    assert wrong.status == 401
    stale = await post_generic(client, payload, t=int(time.time()) - 3600)
    assert stale.status == 401
    assert await pool.fetchval("SELECT count(*) FROM bounce_reports") == 0

    ok = await post_generic(client, payload)
    assert ok.status == 200
    body = await ok.json()
    assert [r["status"] for r in body["reports"]] == ["processed"] * 3
    assert await subscriber_status(pool, sent.subscriber_ids[0]) == "suppressed"
    assert await subscriber_status(pool, sent.subscriber_ids[1]) == "suppressed"
    assert await subscriber_status(pool, sent.subscriber_ids[2]) == "active"  # one soft bounce
    assert await suppressed_reasons(pool) == ["complaint", "hard_bounce"]
    matched = [r["summary"]["matched_by"] for r in await pool.fetch(
        "SELECT summary FROM bounce_reports ORDER BY report_id")]  # fmt: skip
    assert matched == ["envelope address", "Message-ID and address", "address"]

    # The same events again (new signature, same ids): a replay, nothing done twice.
    again = await post_generic(client, payload)
    assert again.status == 409
    assert await pool.fetchval("SELECT count(*) FROM bounces") == 3
    assert await event_types(pool, sent.subscriber_ids[0]) == [
        "delivery.bounced",
        "subscriber.suppressed",
    ]


async def test_generic_webhook_bad_input_suppresses_nobody(
    pool: asyncpg.Pool, sent: Sent, client: Client
) -> None:
    bad = await post_generic(
        client, {"events": [{"type": "bounce", "email": "nobody"}, {"type": "spam", "email": A}]}
    )
    assert bad.status == 400
    fields = (await bad.json())["error"]["fields"]
    assert set(fields) == {"events[0].email", "events[0].bounce_type", "events[1].type"}
    forged = sent.envelope(A).replace("+", "+9", 1)
    refused = await post_generic(
        client, {"type": "bounce", "bounce_type": "hard", "email": A, "envelope_from": forged}
    )
    assert refused.status == 400
    assert "events[0].envelope_from" in (await refused.json())["error"]["fields"]
    unknown = await post_generic(
        client, {"type": "complaint", "email": "stranger@example.net", "id": "x1"}
    )
    assert unknown.status == 200
    assert (await unknown.json())["reports"][0]["status"] == "unmatched"
    not_json = await post_generic(client, None, body=b"{nope")
    assert not_json.status == 400
    assert await suppressed_reasons(pool) == []
    for subscriber_id in sent.subscriber_ids:
        assert await subscriber_status(pool, subscriber_id) == "active"


async def test_mailgun_webhook_valid_invalid_and_replayed(
    pool: asyncpg.Pool, sent: Sent, client: Client
) -> None:
    failed = {
        "event": "failed",
        "severity": "permanent",
        "reason": "bounce",
        "recipient": A,
        "timestamp": time.time(),
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "envelope": {"sender": sent.envelope(A), "targets": A, "transport": "smtp"},
        "message": {"headers": {"to": A, "message-id": sent.message_id(A).strip("<>"),
                                "from": "Health News <news@health.example.org>"}},
        "delivery-status": {"code": 550, "attempt-no": 1, "description": "",
                            "message": "5.1.1 The email account that you tried to reach does "
                                       "not exist."},
    }  # fmt: skip
    path = "/webhooks/bounce/mailgun"
    forged = await post_json(client, path, mailgun_body(failed, key="someone-elses-key-123456"))
    assert forged.status == 401
    old = await post_json(client, path, mailgun_body(failed, timestamp=int(time.time()) - 86400))
    assert old.status == 401
    body = mailgun_body(failed, token="a" * 50)
    first = await post_json(client, path, body)
    assert first.status == 200
    assert (await first.json())["reports"][0]["status"] == "processed"
    replayed = await post_json(client, path, body)
    assert replayed.status == 406  # Mailgun does not retry a 406
    assert await subscriber_status(pool, sent.subscriber_ids[0]) == "suppressed"
    assert await pool.fetchval("SELECT count(*) FROM bounces") == 1

    temporary = {**failed, "severity": "temporary", "recipient": B, "envelope": {}}
    ignored = await post_json(client, path, mailgun_body(temporary, token="b" * 50))
    assert (await ignored.json())["reports"][0]["status"] == "ignored"
    headers = {"message-id": sent.message_id(C).strip("<>")}
    complained = {"event": "complained", "recipient": C, "timestamp": time.time(),
                  "message": {"headers": headers}}  # fmt: skip
    response = await post_json(client, path, mailgun_body(complained, token="c" * 50))
    assert (await response.json())["reports"][0]["status"] == "processed"
    assert await subscriber_status(pool, sent.subscriber_ids[1]) == "active"
    assert await subscriber_status(pool, sent.subscriber_ids[2]) == "suppressed"
    assert await suppressed_reasons(pool) == ["complaint", "hard_bounce"]


async def test_postmark_webhook_valid_invalid_and_duplicate(
    pool: asyncpg.Pool, sent: Sent, client: Client
) -> None:
    bounce = {
        "RecordType": "Bounce", "ID": 4323372036854775807, "Type": "HardBounce", "TypeCode": 1,
        "Name": "Hard bounce", "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "ServerID": 23, "MessageStream": "outbound",
        "Description": "The server was unable to deliver your message (ex: unknown user, "
                       "mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": A, "From": "news@health.example.org", "BouncedAt": "2026-11-26T16:33:54Z",
        "DumpAvailable": True, "Inactive": True, "CanActivate": True,
        "Subject": "Weekly public health news",
    }  # fmt: skip
    path = "/webhooks/bounce/postmark"
    raw = json.dumps(bounce).encode()
    assert (await post_json(client, path, raw)).status == 401
    wrong = await post_json(client, path, raw, Authorization=basic("postmark:guess"))
    assert wrong.status == 401
    ok = await post_json(client, path, raw, Authorization=basic(POSTMARK))
    assert ok.status == 200
    assert (await ok.json())["reports"][0]["status"] == "processed"
    duplicate = await post_json(client, path, raw, Authorization=basic(POSTMARK))
    assert duplicate.status == 200
    assert (await duplicate.json()) == {"reports": [], "duplicates": 1}
    assert await pool.fetchval("SELECT count(*) FROM bounces") == 1

    complaint = {"RecordType": "SpamComplaint", "ID": 42, "Type": "SpamComplaint",
                 "TypeCode": 100001, "Email": B, "BouncedAt": "2026-11-26T16:40:00Z",
                 "Description": "The subscriber marked this message as spam."}  # fmt: skip
    response = await post_json(
        client, path, json.dumps(complaint).encode(), Authorization=basic(POSTMARK)
    )
    assert (await response.json())["reports"][0]["status"] == "processed"
    auto = {**bounce, "ID": 7, "Type": "AutoResponder", "TypeCode": 64, "Email": C}
    response = await post_json(
        client, path, json.dumps(auto).encode(), Authorization=basic(POSTMARK)
    )
    assert (await response.json())["reports"][0]["status"] == "ignored"
    assert await subscriber_status(pool, sent.subscriber_ids[0]) == "suppressed"
    assert await subscriber_status(pool, sent.subscriber_ids[1]) == "suppressed"
    assert await subscriber_status(pool, sent.subscriber_ids[2]) == "active"


async def test_a_webhook_flood_is_answered_429(pool: asyncpg.Pool, client: Client) -> None:
    statuses = []
    for i in range(45):
        response = await post_generic(client, {"type": "complaint", "email": f"x{i}@example.net"})
        statuses.append(response.status)
    assert statuses[:40] == [200] * 40
    assert set(statuses[40:]) == {429}
    limited = await post_generic(client, {"type": "complaint", "email": "y@example.net"})
    assert int(limited.headers["Retry-After"]) >= 1
    assert await pool.fetchval("SELECT count(*) FROM bounce_reports") == 40
    assert await suppressed_reasons(pool) == []
