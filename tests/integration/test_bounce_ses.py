"""Amazon SES notifications through Amazon SNS: signed with a key and certificate this test
makes (SignatureVersion 1 and 2), the certificate served by an injected fetcher (nothing
leaves the machine); forged, foreign-topic and foreign-certificate messages refused;
subscription confirmations recorded and confirmed."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from mailer.config import Settings
from mailer.feedback.sns import canonical
from mailer.web import keys
from mailer.web.app import create_app
from mailer.web.sns_fetch import SnsFetcher
from tests.support.feedback_support import (
    Sent,
    feedback_settings,
    send_digest,
    subscriber_status,
    suppressed_reasons,
)
from tests.support.helpers import ClientFactory
from tests.support.smtp_sink import SmtpSink

Client = TestClient[web.Request, web.Application]
TOPIC = "arn:aws:sns:eu-west-1:123456789012:mailer-bounces"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
A, B, C = "reader0@example.org", "reader1@example.org", "reader2@example.org"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate() -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(KEY, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


class FakeFetcher(SnsFetcher):
    """Serves the test certificate at CERT_URL; records every URL asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []
        self.pem = _certificate()

    async def __call__(self, url: str) -> bytes:
        self.asked.append(url)
        return self.pem if url == CERT_URL else b"<ConfirmSubscriptionResponse/>"


def sns(
    kind: str,
    message: dict[str, Any] | str,
    *,
    message_id: str,
    version: str = "2",
    topic: str = TOPIC,
    cert_url: str = CERT_URL,
    **extra: str,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "Type": kind,
        "MessageId": message_id,
        "TopicArn": topic,
        "Message": message if isinstance(message, str) else json.dumps(message),
        "Timestamp": "2024-05-21T09:00:00.000Z",
        "SignatureVersion": version,
        "SigningCertURL": cert_url,
        **extra,
    }
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 (SNS v1)
    signature = KEY.sign(canonical(data), padding.PKCS1v15(), digest)
    data["Signature"] = base64.b64encode(signature).decode()
    return data


def bounce(address: str, envelope: str, kind: str, subtype: str, status: str) -> dict[str, Any]:
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": kind,
            "bounceSubType": subtype,
            "feedbackId": f"fb-{address}-{status}",
            "bouncedRecipients": [
                {
                    "emailAddress": address,
                    "action": "failed",
                    "status": status,
                    "diagnosticCode": f"smtp; 550 {status}",
                }
            ],
        },
        "mail": {"messageId": "ses-1", "source": envelope, "headers": []},
    }


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return feedback_settings(tmp_path, ses_topic_arns=(TOPIC,))


@pytest.fixture
async def sent(pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, settings: Settings) -> Sent:
    return await send_digest(pool, db_url, smtp_sink, settings, 3)


@pytest.fixture
def fetcher() -> FakeFetcher:
    return FakeFetcher()


@pytest.fixture
async def client(
    pool: asyncpg.Pool, settings: Settings, aiohttp_client: ClientFactory, fetcher: FakeFetcher
) -> Client:
    app = create_app(settings, pool)
    app[keys.sns_fetch_key] = fetcher
    return await aiohttp_client(app)


async def post(client: Client, data: dict[str, Any] | bytes) -> Any:
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return await client.post(
        "/webhooks/bounce/ses", data=body, headers={"Content-Type": "text/plain; charset=UTF-8"}
    )


async def test_ses_bounces_and_complaints_act_by_policy(
    pool: asyncpg.Pool, sent: Sent, client: Client, fetcher: FakeFetcher
) -> None:
    hard = sns(
        "Notification",
        bounce(A, sent.envelope(A), "Permanent", "General", "5.1.1"),
        message_id="m-1",
    )
    soft = sns(
        "Notification",
        bounce(B, sent.envelope(B), "Transient", "MailboxFull", "4.2.2"),
        message_id="m-2",
        version="1",
    )
    complaint = sns(
        "Notification",
        {
            "notificationType": "Complaint",
            "complaint": {
                "complainedRecipients": [{"emailAddress": C}],
                "feedbackId": "c-1",
                "complaintFeedbackType": "abuse",
            },
            "mail": {
                "messageId": "ses-3",
                "source": sent.envelope(C),
                "headers": [{"name": "Message-ID", "value": sent.message_id(C)}],
            },
        },
        message_id="m-3",
    )
    for message in (hard, soft, complaint):
        response = await post(client, message)
        assert response.status == 200, await response.text()
        assert [r["status"] for r in (await response.json())["reports"]] == ["processed"]
    assert fetcher.asked == [CERT_URL] * 3
    assert await subscriber_status(pool, sent.subscriber_ids[0]) == "suppressed"
    assert await subscriber_status(pool, sent.subscriber_ids[1]) == "active"
    assert await subscriber_status(pool, sent.subscriber_ids[2]) == "suppressed"
    assert await suppressed_reasons(pool) == ["complaint", "hard_bounce"]
    rows = await pool.fetch("SELECT kind, source FROM bounces ORDER BY bounce_id")
    assert [(r["kind"], r["source"]) for r in rows] == [
        ("hard", "webhook:ses"),
        ("soft", "webhook:ses"),
        ("complaint", "webhook:ses"),
    ]
    matched = await pool.fetch("SELECT summary FROM bounce_reports ORDER BY report_id")
    assert [m["summary"]["matched_by"] for m in matched] == ["envelope address"] * 3
    # SNS delivers again (same MessageId, same feedback): nothing done twice.
    again = await post(client, hard)
    assert again.status == 200 and (await again.json())["duplicates"] == 1
    assert await pool.fetchval("SELECT count(*) FROM bounces") == 3


async def test_forged_foreign_or_unconfigured_messages_are_refused(
    pool: asyncpg.Pool,
    sent: Sent,
    client: Client,
    fetcher: FakeFetcher,
    settings: Settings,
    aiohttp_client: ClientFactory,
) -> None:
    good = sns(
        "Notification",
        bounce(A, sent.envelope(A), "Permanent", "General", "5.1.1"),
        message_id="m-9",
    )
    tampered = {**good, "Message": good["Message"].replace(A, B)}
    foreign_topic = sns(
        "Notification",
        good["Message"],
        message_id="m-10",
        topic="arn:aws:sns:eu-west-1:999999999999:someone-elses",
    )
    foreign_cert = sns(
        "Notification",
        good["Message"],
        message_id="m-11",
        cert_url="https://attacker.example/cert.pem",
    )
    lookalike = sns(
        "Notification",
        good["Message"],
        message_id="m-12",
        cert_url="https://sns.eu-west-1.amazonaws.com.attacker.example/c.pem",
    )
    for message, why in (
        (tampered, "does not match"),
        (foreign_topic, "topic"),
        (foreign_cert, "certificate address"),
        (lookalike, "certificate address"),
    ):
        response = await post(client, message)
        assert response.status == 401
        assert why in (await response.json())["error"]["message"]
    assert all(url == CERT_URL for url in fetcher.asked)  # never the attacker's address
    assert (await post(client, b"{not json")).status == 400
    missing = await post(client, {"Type": "Notification", "TopicArn": TOPIC})
    assert missing.status == 400
    assert "Signature" in (await missing.json())["error"]["fields"]
    # Without MAILER_SES_TOPIC_ARNS the endpoint accepts nothing.
    app = create_app(replace(settings, bounces=replace(settings.bounces, ses_topic_arns=())), pool)
    app[keys.sns_fetch_key] = fetcher
    off = await (await aiohttp_client(app)).post(
        "/webhooks/bounce/ses", data=json.dumps(good), headers={"Content-Type": "text/plain"}
    )
    assert off.status == 401
    assert await pool.fetchval("SELECT count(*) FROM bounce_reports") == 0
    assert await subscriber_status(pool, sent.subscriber_ids[0]) == "active"


async def test_subscription_confirmation_is_recorded_and_confirmed(
    pool: asyncpg.Pool, client: Client, fetcher: FakeFetcher
) -> None:
    url = (
        "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
        f"{TOPIC}&Token=2336412f37fb687f5d51e6e2425"
    )
    message = sns(
        "SubscriptionConfirmation",
        "You have chosen to subscribe ...",
        message_id="s-1",
        SubscribeURL=url,
        Token="2336412f37fb687f5d51e6e2425",
    )
    response = await post(client, message)
    assert response.status == 200
    assert (await response.json())["confirmation"] == "SubscriptionConfirmation"
    assert fetcher.asked == [CERT_URL, url]
    row = await pool.fetchrow("SELECT source, status, problem FROM bounce_reports")
    assert row is not None
    assert (row["source"], row["status"]) == ("webhook:ses", "ignored")
    assert "confirmed" in row["problem"]
    # A SubscribeURL that is not Amazon SNS's is never visited.
    evil = sns(
        "SubscriptionConfirmation",
        "...",
        message_id="s-2",
        SubscribeURL="https://attacker.example/?Action=ConfirmSubscription&x=1",
        Token="t",
    )
    assert (await post(client, evil)).status == 400
    assert fetcher.asked == [CERT_URL, url, CERT_URL]
