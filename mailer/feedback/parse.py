"""Reading what comes back to a bounce address: delivery status notifications (RFC 3464,
read tolerantly), abuse reports (ARF, RFC 5965), and every other MTA's bounce, delay
warning or auto-reply (mailer.feedback.mta). Pure functions: bytes in, a ParsedReport out."""

from __future__ import annotations

import base64
import email
import email.policy
import email.utils
import quopri
from email.message import Message

from mailer.feedback import mta
from mailer.feedback.shapes import (
    MAX_DETAIL,
    Original,
    ParsedReport,
    UnreadableReport,
    address_in,
    headers_of,
    messages,
    original_from_headers,
)
from mailer.feedback.status import classify_failure, classify_status, status_in_text

__all__ = [
    "Original",
    "ParsedReport",
    "UnreadableReport",
    "classify_status",
    "original_from_headers",
    "parse_report",
    "status_in_text",
]


def parse_report(raw: bytes) -> ParsedReport:
    """What a message to a bounce address says: a DSN (also one forwarded or missing its
    report-type), an ARF report, an auto-reply, or another MTA's bounce. Raises
    UnreadableReport only for what is not a mail message at all."""
    if not raw.strip():
        raise UnreadableReport("an empty message")
    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception as exc:  # the parser is lenient; this is the rare hard failure
        raise UnreadableReport(f"not a mail message: {exc}") from exc
    container = _container(message, "message/delivery-status")
    if container is not None:
        parsed = _dsn(messages(container.get_payload()))
        if parsed is not None:
            return parsed
    container = _container(message, "message/feedback-report")
    if container is not None:
        return _arf(messages(container.get_payload()))
    return mta.read_other(message)


def _container(message: Message, kind: str, depth: int = 0) -> Message | None:
    """The multipart holding a part of `kind`: the report itself, or one forwarded inside
    another message (message/rfc822), whatever its report-type says."""
    if depth > 5 or not message.is_multipart():
        return None
    parts = messages(message.get_payload())
    if message.get_content_maintype() == "multipart" and any(
        p.get_content_type() == kind for p in parts
    ):
        return message
    for part in parts:
        found = _container(part, kind, depth + 1)
        if found is not None:
            return found
    return None


def _fields(block: Message) -> dict[str, str]:
    return {k.lower(): " ".join(str(v).split()) for k, v in block.items()}


def _blocks(part: Message) -> list[dict[str, str]]:
    """The header blocks of a message/delivery-status part (parsed as sub-messages, or left
    as text by a broken generator, or hidden in base64 or quoted-printable)."""
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    blocks = [_fields(b) for b in messages(part.get_payload())]
    if encoding not in ("base64", "quoted-printable") and any(blocks):
        return blocks
    text = ""
    if encoding in ("base64", "quoted-printable") and isinstance(part.get_payload(), list):
        inner = messages(part.get_payload())
        encoded = "\n\n".join(str(b.get_payload()) for b in inner)
        decoder = base64.b64decode if encoding == "base64" else quopri.decodestring
        try:
            text = decoder(encoded.encode("ascii", "replace")).decode("utf-8", "replace")
        except ValueError:
            text = ""
    else:
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    chunks = text.replace("\r\n", "\n").split("\n\n")
    return [
        _fields(email.message_from_string(chunk.strip() + "\n", policy=email.policy.compat32))
        for chunk in chunks
        if chunk.strip()
    ]


def _action(value: str) -> str:
    """'failed (Bad destination mailbox address)' -> failed; opensmtpd's 'error' -> failed."""
    word = value.split("(")[0].strip().split(" ")[0].lower() if value else ""
    return "failed" if word in ("error", "fail", "failure") else word


def _dsn(parts: list[Message]) -> ParsedReport | None:
    status_part = next(p for p in parts if p.get_content_type() == "message/delivery-status")
    blocks = _blocks(status_part)
    per_message = blocks[0] if blocks else {}
    recipients = [b for b in blocks[1:] if "action" in b or "status" in b]
    recipients += [b for b in blocks[:1] if "final-recipient" in b and "action" in b]
    if not recipients:
        return None  # no per-recipient fields: let the other readers try
    # The failed recipient decides (VERP: one recipient per envelope); then a delayed one.
    for wanted in ("failed", "delayed"):
        chosen = next((r for r in recipients if _action(r.get("action", "")) == wanted), None)
        if chosen is not None:
            break
    else:
        chosen = recipients[0]
    status = (chosen.get("status") or "").split(" ")[0]
    diagnostic = chosen.get("diagnostic-code", "")
    action = _action(chosen.get("action", ""))
    if not action and status[:1] in ("4", "5"):
        action = "failed"  # no Action but a failure status: a failure all the same
    recipient = address_in(
        chosen.get("original-recipient")
        or chosen.get("x-actual-recipient")
        or chosen.get("final-recipient")
    )
    outcome: str | None = None
    if action == "failed":
        # The status first (if it says something on its own), then the diagnostic's words.
        outcome, found = classify_failure(f"{status} {diagnostic}", permanent=True)
        status = status or found or ""
        category = "failed"
    elif action == "delayed":
        category = "delayed"
    elif action in ("delivered", "relayed", "expanded"):
        category = "delivered"
    else:
        outcome, _ = classify_failure(diagnostic, permanent=False)
        category = "failed"
    detail = f"{status or 'no status'} {action or 'no action'}"
    if diagnostic:
        detail += f": {diagnostic.partition(';')[2].strip() or diagnostic}"
    return ParsedReport(
        kind="dsn",
        outcome=outcome,
        recipient=recipient,
        detail=detail[:MAX_DETAIL],
        original=_original(parts),
        category=category,
        summary={
            "reporting_mta": per_message.get("reporting-mta"),
            "action": action,
            "status": status or None,
            "diagnostic": diagnostic[:MAX_DETAIL] or None,
            "final_recipient": address_in(chosen.get("final-recipient")),
            "original_recipient": address_in(chosen.get("original-recipient")),
        },
    )


def _arf(parts: list[Message]) -> ParsedReport:
    feedback = next(p for p in parts if p.get_content_type() == "message/feedback-report")
    fields = _feedback_fields(feedback)
    feedback_type = fields.get("feedback-type", "").lower() or "abuse"
    original = _original(parts)
    # The complained-about recipient: the report's own fields, else the original's To:
    # (never the report's own To:, which is our feedback address or "undisclosed").
    recipient = (
        address_in(fields.get("original-rcpt-to"))
        or address_in(fields.get("removal-recipient"))
        or address_in(original.to)
    )
    # abuse (and fraud, a kind of abuse) is a complaint; opt-out, auth-failure, not-spam,
    # virus, other are kept for an editor but change nobody's status.
    complaint = feedback_type in ("abuse", "fraud")
    return ParsedReport(
        kind="arf",
        outcome="complaint" if complaint else None,
        recipient=recipient,
        detail=f"{feedback_type} report from {fields.get('user-agent', 'unknown agent')}"[
            :MAX_DETAIL
        ],
        original=original,
        category="complaint" if complaint else "feedback",
        summary={
            "feedback_type": feedback_type,
            "user_agent": fields.get("user-agent"),
            "source_ip": fields.get("source-ip"),
            "arrival_date": fields.get("arrival-date"),
            "reported_domain": fields.get("reported-domain"),
            "original_rcpt_to": recipient,
        },
    )


def _feedback_fields(part: Message) -> dict[str, str]:
    """message/feedback-report is a header block; the parser gives it as a sub-message
    (or, from some generators, as text)."""
    payload = part.get_payload()
    if isinstance(payload, list) and messages(payload):
        return _fields(messages(payload)[0])
    text = part.get_payload(decode=True)
    if isinstance(text, bytes) and text.strip():
        return _fields(email.message_from_bytes(text.strip(), policy=email.policy.compat32))
    return {}


def _original(parts: list[Message]) -> Original:
    """Headers of the message a report is about (message/rfc822 or text/rfc822-headers)."""
    for part in parts:
        headers = headers_of(part)
        if headers is not None:
            return original_from_headers(headers)
    return Original()
