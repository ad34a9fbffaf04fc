"""Amazon SES bounce and complaint notifications, delivered by Amazon SNS: the SNS message
signature (SignatureVersion 1, SHA1, or 2, SHA256, RSA over the canonical string, checked
with the signing certificate from an Amazon SNS address), the topic (only the configured
ones), and the SES notification inside. The certificate and the subscription confirmation
are fetched through a function the caller gives (the web layer's HTTP client; tests give
their own), and only from addresses of Amazon SNS."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mailer.errors import InvalidInput
from mailer.feedback.intake import Feedback
from mailer.feedback.parse import Original
from mailer.feedback.providers import Item
from mailer.feedback.status import classify_failure
from mailer.signatures import BadSignature

Fetch = Callable[[str], Awaitable[bytes]]
_SNS_HOST = r"https://sns\.[a-z0-9-]{1,40}\.amazonaws\.com(\.cn)?"
CERT_URL = re.compile(_SNS_HOST + r"/[A-Za-z0-9_./-]{1,200}\.pem")
SUBSCRIBE_URL = re.compile(_SNS_HOST + r"/\?Action=ConfirmSubscription&[A-Za-z0-9_.%:=&-]{1,2000}")
_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
_FIELDS["UnsubscribeConfirmation"] = _FIELDS["SubscriptionConfirmation"]
_SUBTYPES = {
    "MailboxFull": "soft",
    "MessageTooLarge": "soft",
    "ContentRejected": "block",
    "AttachmentRejected": "block",
}


@dataclass(frozen=True)
class SnsMessage:
    kind: str  # Notification, SubscriptionConfirmation, UnsubscribeConfirmation
    message_id: str
    topic: str
    items: list[Item] = field(default_factory=list)
    subscribe_url: str | None = None


def canonical(message: dict[str, Any]) -> bytes:
    """The string SNS signs: name and value lines of the type's fields, in order; Subject
    only when the message has one."""
    names = _FIELDS[message["Type"]]
    lines = []
    for name in names:
        if name == "Subject" and message.get("Subject") is None:
            continue
        lines += [name, str(message[name])]
    return ("\n".join(lines) + "\n").encode()


def check_signature(message: dict[str, Any], certificate: bytes) -> None:
    """BadSignature unless `certificate` (PEM) signed this message's canonical string."""
    version = str(message.get("SignatureVersion"))
    if version not in ("1", "2"):
        raise BadSignature(f"unknown SNS SignatureVersion {version!r}")
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        key = x509.load_pem_x509_certificate(certificate).public_key()
    except (binascii.Error, ValueError) as exc:
        raise BadSignature(f"malformed SNS signature or certificate ({exc})") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise BadSignature("the SNS signing certificate has no RSA key")
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 (SNS v1)
    try:
        key.verify(signature, canonical(message), padding.PKCS1v15(), digest)
    except InvalidSignature as exc:
        raise BadSignature("SNS signature does not match") from exc


def _envelope(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"the body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInput("invalid SNS message", {"Type": "required"})
    kind = data.get("Type")
    if kind not in _FIELDS:
        raise InvalidInput("invalid SNS message", {"Type": "Notification or a confirmation"})
    missing = {
        name: "required"
        for name in (*_FIELDS[kind], "Signature", "SigningCertURL", "SignatureVersion")
        if name != "Subject" and not isinstance(data.get(name), str)
    }
    if missing:
        raise InvalidInput("invalid SNS message", missing)
    return data


async def read_sns(body: bytes, topics: tuple[str, ...], fetch: Fetch) -> SnsMessage:
    """Check and read one SNS request: InvalidInput for a malformed one, BadSignature for
    an unconfigured endpoint, a foreign topic, a certificate address that is not Amazon
    SNS's, or a signature that does not hold."""
    if not topics:
        raise BadSignature("Amazon SES webhooks are not configured (MAILER_SES_TOPIC_ARNS)")
    data = _envelope(body)
    if data["TopicArn"] not in topics:
        raise BadSignature("the SNS topic is not one of MAILER_SES_TOPIC_ARNS")
    if not CERT_URL.fullmatch(data["SigningCertURL"]):
        raise BadSignature("SigningCertURL is not an Amazon SNS certificate address")
    check_signature(data, await fetch(data["SigningCertURL"]))
    kind, message_id = data["Type"], data["MessageId"]
    if kind != "Notification":
        url = data["SubscribeURL"]
        if not SUBSCRIBE_URL.fullmatch(url):
            raise InvalidInput("invalid SNS message", {"SubscribeURL": "not an Amazon SNS URL"})
        return SnsMessage(kind, message_id, data["TopicArn"], subscribe_url=url)
    return SnsMessage(kind, message_id, data["TopicArn"], items=ses_items(data["Message"], body))


def ses_items(text: str, raw: bytes) -> list[Item]:
    """The SES notification (notificationType, or eventType of event publishing): one item
    per bounced or complaining recipient; a delivery or other event is kept as one item
    with nothing to act on."""
    try:
        note = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput("invalid SES notification", {"Message": "not JSON"}) from exc
    if not isinstance(note, dict):
        raise InvalidInput("invalid SES notification", {"Message": "not an object"})
    kind = str(note.get("notificationType") or note.get("eventType") or "")
    mail: dict[str, Any] = note["mail"] if isinstance(note.get("mail"), dict) else {}
    original = _original(mail)
    source = str(mail.get("source") or "")[:500] or None
    base = {"type": kind, "ses_message_id": mail.get("messageId")}
    if kind == "Bounce" and isinstance(note.get("bounce"), dict):
        bounce = note["bounce"]
        people = [r for r in bounce.get("bouncedRecipients") or [] if isinstance(r, dict)]
        return [_bounce(bounce, r, i, original, source, raw, base) for i, r in enumerate(people)]
    if kind == "Complaint" and isinstance(note.get("complaint"), dict):
        complaint = note["complaint"]
        feedback_type = str(complaint.get("complaintFeedbackType") or "abuse")
        outcome = "complaint" if feedback_type in ("abuse", "fraud") else None
        people = [r for r in complaint.get("complainedRecipients") or [] if isinstance(r, dict)]
        return [
            Item(
                feedback=Feedback(
                    outcome=outcome,
                    kind="event",
                    source="webhook:ses",
                    detail=f"{feedback_type} complaint reported by Amazon SES",
                    recipient=str(r.get("emailAddress") or "")[:320] or None,
                    original=original,
                    trusted_recipient=True,
                    summary={**base, "feedback_type": feedback_type},
                ),
                raw=raw,
                receipt=f"{complaint.get('feedbackId') or mail.get('messageId')}:{i}",
                envelope_from=source,
            )
            for i, r in enumerate(people)
        ]
    return [
        Item(
            feedback=Feedback(
                outcome=None,
                kind="event",
                source="webhook:ses",
                detail=f"Amazon SES {kind or 'notification'}: nothing to act on",
                original=original,
                summary=base,
            ),
            raw=raw,
            receipt=f"{kind}:{mail.get('messageId')}",
            envelope_from=source,
        )
    ]


def _bounce(
    bounce: dict[str, Any],
    person: dict[str, Any],
    index: int,
    original: Original,
    source: str | None,
    raw: bytes,
    base: dict[str, Any],
) -> Item:
    kind, subtype = str(bounce.get("bounceType")), str(bounce.get("bounceSubType"))
    status = str(person.get("status") or "")
    diagnostic = str(person.get("diagnosticCode") or "")[:1000]
    outcome: str | None
    if kind == "Transient":
        outcome = _SUBTYPES.get(subtype, "soft")
    elif kind == "Permanent":
        outcome = "block" if subtype in _SUBTYPES else "hard"
        if subtype in ("General", "Undetermined") and (status or diagnostic):
            outcome = classify_failure(f"{status} {diagnostic}", permanent=True)[0]
    else:  # Undetermined: SES could not tell; the words may
        outcome = classify_failure(f"{status} {diagnostic}", permanent=False)[0]
    return Item(
        feedback=Feedback(
            outcome=outcome,
            kind="event",
            source="webhook:ses",
            detail=f"{kind}/{subtype} {status} {diagnostic}".strip()[:1000],
            recipient=str(person.get("emailAddress") or "")[:320] or None,
            original=original,
            trusted_recipient=True,
            summary={**base, "bounce_type": kind, "bounce_subtype": subtype, "status": status},
        ),
        raw=raw,
        receipt=f"{bounce.get('feedbackId') or base['ses_message_id']}:{index}",
        envelope_from=source,
    )


def _original(mail: dict[str, Any]) -> Original:
    headers = {
        str(h.get("name", "")).lower(): str(h.get("value", ""))[:2000]
        for h in mail.get("headers") or []
        if isinstance(h, dict)
    }
    common: dict[str, Any] = mail.get("commonHeaders") or {}
    if not isinstance(common, dict):
        common = {}
    return Original(
        message_id=headers.get("message-id") or common.get("messageId"),
        return_path=headers.get("return-path"),
        list_unsubscribe=headers.get("list-unsubscribe"),
        to=headers.get("to"),
    )
