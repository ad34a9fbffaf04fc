"""Bounce and complaint webhooks: our generic JSON form (signed with Mailer-Signature) and
the native forms of Mailgun (HMAC of timestamp + token) and Postmark (HTTP basic auth).
Pure functions: a request's body and headers in, Feedback items (or an error) out."""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from mailer.errors import InvalidInput
from mailer.feedback.intake import Feedback
from mailer.feedback.parse import (
    Original,
    UnreadableReport,
    classify_status,
    original_from_headers,
    status_in_text,
)
from mailer.numbers import whole_number
from mailer.signatures import BadSignature

MAILGUN_MAX_AGE = 12 * 3600  # Mailgun retries for hours; its tokens are kept for 3 days
BOUNCE_TYPES = ("hard", "soft", "block")


@dataclass(frozen=True)
class Item:
    """One event of a webhook request: what it says, its own raw JSON, its replay key."""

    feedback: Feedback
    raw: bytes
    receipt: str
    envelope_from: str | None = None  # a VERP address to check (generic and Mailgun)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"the body is not JSON: {exc}") from exc


def _text(value: Any, limit: int = 1000) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


# ---------------------------------------------------------------------------- generic


def parse_generic(body: bytes, signature: str) -> list[Item]:
    """{"events": [...]} or one event; each needs `type` (bounce|complaint) and `email`,
    a bounce also `bounce_type` (hard|soft|block) or an RFC 3463 `status`."""
    data = _json(body)
    events = data.get("events", [data]) if isinstance(data, dict) else None
    if not isinstance(events, list) or not events or len(events) > 500:
        raise InvalidInput('send an event object, or {"events": [...]} with 1 to 500 events')
    items: list[Item] = []
    problems: dict[str, str] = {}
    for index, event in enumerate(events):
        where = f"events[{index}]" if "events" in data else ""
        try:
            items.append(_generic_event(event, signature, index))
        except InvalidInput as exc:
            problems.update({f"{where}.{k}".lstrip("."): v for k, v in exc.fields.items()})
    if problems:
        raise InvalidInput("invalid bounce event", problems)
    return items


def _generic_event(event: Any, signature: str, index: int) -> Item:
    if not isinstance(event, dict):
        raise InvalidInput("not an object", {"event": "must be an object"})
    problems: dict[str, str] = {}
    kind = event.get("type")
    address = _text(event.get("email"), 320)
    if kind not in ("bounce", "complaint"):
        problems["type"] = "bounce or complaint"
    if "@" not in address:
        problems["email"] = "required: the recipient's address"
    outcome: str | None = "complaint"
    status = _text(event.get("status"), 20) or None
    if kind == "bounce":
        outcome = event.get("bounce_type")
        if outcome is None and status:
            try:
                outcome = classify_status(status, "failed")
            except UnreadableReport:
                problems["status"] = "an RFC 3463 code such as 5.1.1"
        if outcome not in BOUNCE_TYPES:
            problems.setdefault("bounce_type", "hard, soft or block (or give an RFC 3463 status)")
    for name in ("envelope_from", "message_id", "detail", "id"):
        if event.get(name) is not None and not isinstance(event.get(name), str):
            problems[name] = "must be a string"
    if problems:
        raise InvalidInput("invalid bounce event", problems)
    detail = _text(event.get("detail")) or f"{kind} reported by webhook"
    return Item(
        feedback=Feedback(
            outcome=outcome,
            kind="event",
            source="webhook:generic",
            detail=f"{status} {detail}".strip() if status else detail,
            recipient=address,
            original=Original(message_id=_text(event.get("message_id"), 500) or None),
            trusted_recipient=True,
            summary={"type": kind, "status": status, "id": event.get("id")},
        ),
        raw=json.dumps(event).encode(),
        receipt=_text(event.get("id"), 200) or f"{signature}:{index}",
        envelope_from=_text(event.get("envelope_from"), 500) or None,
    )


# ---------------------------------------------------------------------------- Mailgun


def verify_mailgun(data: Any, signing_key: str, *, now: float | None = None) -> str:
    """Check Mailgun's signature block; returns its token (the replay key)."""
    if not signing_key:
        raise BadSignature("Mailgun webhooks are not configured (MAILER_MAILGUN_SIGNING_KEY)")
    block = data.get("signature") if isinstance(data, dict) else None
    if not isinstance(block, dict):
        raise BadSignature("missing Mailgun signature block")
    token, stamp, given = (str(block.get(k, "")) for k in ("token", "timestamp", "signature"))
    if not token or whole_number(stamp, max_digits=12) is None or not given or len(token) > 200:
        raise BadSignature("malformed Mailgun signature block")
    current = time.time() if now is None else now
    if not -300 < current - int(stamp) < MAILGUN_MAX_AGE:
        raise BadSignature("Mailgun signature timestamp is too old or in the future (replay?)")
    expected = hmac.new(signing_key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.lower()):
        raise BadSignature("Mailgun signature does not match")
    return token


def parse_mailgun(body: bytes, signing_key: str) -> list[Item]:
    data = _json(body)
    token = verify_mailgun(data, signing_key)
    event_data = data.get("event-data")
    if not isinstance(event_data, dict):
        raise InvalidInput("invalid Mailgun event", {"event-data": "required"})
    event = _text(event_data.get("event"), 50)
    recipient = _text(event_data.get("recipient"), 320)
    status_block = event_data.get("delivery-status") or {}
    message = _text(status_block.get("message")) or _text(status_block.get("description"))
    headers = (event_data.get("message") or {}).get("headers") or {}
    outcome: str | None = None
    if event == "complained":
        outcome, detail = "complaint", "complaint reported by Mailgun"
    elif event == "failed":
        detail = f"{status_block.get('code', '')} {message}".strip() or "failed"
        outcome = _mailgun_failure(event_data, status_block, message)
    else:
        detail = f"Mailgun event {event or '(none)'}: nothing to act on"
    envelope = event_data.get("envelope") or {}
    return [
        Item(
            feedback=Feedback(
                outcome=outcome,
                kind="event",
                source="webhook:mailgun",
                detail=detail,
                recipient=recipient or None,
                original=Original(message_id=_text(headers.get("message-id"), 500) or None),
                trusted_recipient=True,
                summary={
                    "event": event,
                    "severity": event_data.get("severity"),
                    "reason": event_data.get("reason"),
                    "code": status_block.get("code"),
                    "id": event_data.get("id"),
                },
            ),
            raw=body,
            receipt=token,
            envelope_from=_text(envelope.get("sender"), 500) or None,
        )
    ]


def _mailgun_failure(event: dict[str, Any], status: dict[str, Any], message: str) -> str | None:
    if event.get("severity") != "permanent":
        return None  # Mailgun retries a temporary failure itself
    reason = event.get("reason")
    if reason == "suppress-bounce":
        return "hard"  # Mailgun's own list says the address bounced before
    if reason == "espblock":
        return "block"
    if reason == "old":
        return "soft"  # gave up retrying
    code = status_in_text(str(status.get("enhanced-code") or "")) or status_in_text(message)
    if code is not None:
        return classify_status(code, "failed")
    return "hard" if status.get("code") in (550, 551, 553) else "soft"


# ---------------------------------------------------------------------------- Postmark

_POSTMARK = {
    "HardBounce": "hard",
    "BadEmailAddress": "hard",
    "Transient": "soft",
    "SoftBounce": "soft",
    "DnsError": "soft",
    "Blocked": "block",
    "SpamNotification": "block",
    "VirusNotification": "block",
    "DMARCPolicy": "block",
    "SpamComplaint": "complaint",
}


def verify_postmark(authorization: str | None, credentials: str) -> None:
    """Postmark signs nothing; its webhook URL carries basic-auth credentials."""
    if not credentials:
        raise BadSignature("Postmark webhooks are not configured (MAILER_POSTMARK_WEBHOOK_AUTH)")
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise BadSignature("Postmark webhooks need HTTP basic authentication")
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadSignature("malformed basic authentication") from exc
    if not hmac.compare_digest(given, credentials.encode()):
        raise BadSignature("wrong basic-authentication credentials")


def parse_postmark(body: bytes) -> list[Item]:
    data = _json(body)
    if not isinstance(data, dict) or "RecordType" not in data:
        raise InvalidInput("invalid Postmark event", {"RecordType": "required"})
    record = _text(data.get("RecordType"), 50)
    kind = _text(data.get("Type"), 50) or record
    outcome = _POSTMARK.get(kind) if record in ("Bounce", "SpamComplaint") else None
    identifier = data.get("ID")
    if not isinstance(identifier, int | str) or isinstance(identifier, bool):
        raise InvalidInput("invalid Postmark event", {"ID": "required"})
    original = Original(message_id=None)
    content = data.get("Content")
    if isinstance(content, str) and content:
        # The bounce dump (when "include content" is on) quotes the original's headers.
        original = original_from_headers(
            email.message_from_string(content[:200_000], policy=email.policy.compat32)
        )
    description = " ".join(
        x for x in (_text(data.get("Description")), _text(data.get("Details"))) if x
    )
    return [
        Item(
            feedback=Feedback(
                outcome=outcome,
                kind="event",
                source="webhook:postmark",
                detail=f"{kind}: {description}"[:1000] if description else kind,
                recipient=_text(data.get("Email"), 320) or None,
                original=original,
                trusted_recipient=True,
                summary={
                    "record_type": record,
                    "type": kind,
                    "type_code": data.get("TypeCode"),
                    "id": identifier,
                    "postmark_message_id": data.get("MessageID"),
                },
            ),
            raw=body,
            receipt=f"{record}:{identifier}",
        )
    ]
