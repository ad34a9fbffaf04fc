"""What a report means for an address, without anything running."""

from __future__ import annotations

import base64

import pytest

from mailer.feedback.parse import UnreadableReport, classify_status, parse_report
from mailer.feedback.providers import verify_mailgun, verify_postmark
from mailer.signatures import BadSignature
from tests.support.feedback_messages import arf, dsn, original_message


@pytest.mark.parametrize(
    ("status", "action", "outcome"),
    [
        ("5.1.1", "failed", "hard"),
        ("5.1.10", "failed", "hard"),
        ("5.2.1", "failed", "hard"),
        ("5.4.4", "failed", "hard"),
        ("5.2.2", "failed", "soft"),
        ("5.3.0", "failed", "soft"),
        ("4.4.7", "failed", "soft"),
        ("5.7.1", "failed", "block"),
        ("5.7.26", "failed", "block"),
        ("4.2.2", "delayed", None),
        ("2.0.0", "delivered", None),
        ("2.0.0 (success)", "relayed", None),
    ],
)
def test_status_codes(status: str, action: str, outcome: str | None) -> None:
    assert classify_status(status, action) == outcome


@pytest.mark.parametrize(("status", "action"), [("550", "failed"), ("5.1.1", "exploded")])
def test_malformed_status_or_action_is_unreadable(status: str, action: str) -> None:
    with pytest.raises(UnreadableReport):
        classify_status(status, action)


def test_feedback_types_other_than_abuse_change_nobody() -> None:
    original = original_message(to="a@example.org", message_id="<1.digest@example.org>")
    for kind, outcome in (("abuse", "complaint"), ("fraud", "complaint"), ("not-spam", None),
                          ("virus", None), ("auth-failure", None)):  # fmt: skip
        parsed = parse_report(arf(to="fbl@example.org", original=original, feedback_type=kind))
        assert (parsed.kind, parsed.outcome) == ("arf", outcome)


def test_a_dsn_names_its_recipient_and_diagnostic() -> None:
    parsed = parse_report(dsn(to="b@example.org", recipient="Zoe@Example.org", status="5.1.1"))
    assert parsed.recipient == "Zoe@Example.org"
    assert parsed.detail.startswith("5.1.1 failed: 550 5.1.1 <Zoe@Example.org>")
    # Tolerant: a failed recipient without Status is classified from its diagnostic.
    no_status = parse_report(dsn(to="b@example.org", recipient="z@example.org", status=None))
    assert (no_status.outcome, no_status.summary["status"]) == ("hard", "5.1.1")
    with pytest.raises(UnreadableReport, match="empty"):
        parse_report(b"  \r\n")


def test_provider_signatures() -> None:
    data = {"signature": {"timestamp": "1700000000", "token": "t" * 50,
                          "signature": "f" * 64}}  # fmt: skip
    with pytest.raises(BadSignature, match="does not match"):
        verify_mailgun(data, "k" * 20, now=1700000000)
    with pytest.raises(BadSignature, match="too old"):
        verify_mailgun(data, "k" * 20, now=1700000000 + 86400)
    with pytest.raises(BadSignature, match="not configured"):
        verify_mailgun(data, "")
    good = "Basic " + base64.b64encode(b"user:pass").decode()
    verify_postmark(good, "user:pass")
    for header in (None, "Bearer x", "Basic !!!", "Basic " + base64.b64encode(b"user:no").decode()):
        with pytest.raises(BadSignature):
            verify_postmark(header, "user:pass")


def test_sns_addresses_and_canonical_string() -> None:
    from mailer.feedback.sns import CERT_URL, SUBSCRIBE_URL, canonical

    assert CERT_URL.fullmatch(
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-a1.pem"
    )
    for url in ("http://sns.us-east-1.amazonaws.com/x.pem",
                "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
                "https://evil.example/sns.us-east-1.amazonaws.com/x.pem",
                "https://sns.us-east-1.amazonaws.com/x.pem?u=https://evil.example/"):  # fmt: skip
        assert not CERT_URL.fullmatch(url), url
    assert SUBSCRIBE_URL.fullmatch(
        "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:x&Token=ab"
    )
    message = {"Type": "Notification", "Message": "m", "MessageId": "i", "Timestamp": "t",
               "TopicArn": "a"}  # fmt: skip
    assert (
        canonical(message)
        == b"Message\nm\nMessageId\ni\nTimestamp\nt\nTopicArn\na\nType\nNotification\n"
    )
    with_subject = canonical({**message, "Subject": "s"})
    assert b"MessageId\ni\nSubject\ns\nTimestamp" in with_subject
