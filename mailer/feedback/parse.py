"""Reading delivery status notifications (RFC 3464) and abuse reports (ARF, RFC 5965) with
the standard library's email package. Pure functions: bytes in, a ParsedReport out."""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

_STATUS = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\s*(?:\(.*\))?\s*$")
_CODE_IN_TEXT = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_MAX_DETAIL = 1000


class UnreadableReport(ValueError):
    """The message is not a report we can act on; the text says why, for an editor."""


@dataclass(frozen=True)
class Original:
    """What a report tells us of the message it is about."""

    message_id: str | None = None
    return_path: str | None = None
    list_unsubscribe: str | None = None
    to: str | None = None


@dataclass(frozen=True)
class ParsedReport:
    kind: str  # dsn or arf
    # dsn: hard, soft or block; arf: complaint. None: nothing to act on (delivered, delayed,
    # a feedback type other than abuse) -- kept, marked ignored.
    outcome: str | None
    recipient: str | None
    detail: str
    original: Original
    summary: dict[str, Any] = field(default_factory=dict)


def parse_report(raw: bytes) -> ParsedReport:
    """A DSN or an ARF report, or UnreadableReport (with the reason)."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception as exc:  # the parser is lenient; this is the rare hard failure
        raise UnreadableReport(f"not a mail message: {exc}") from exc
    if message.get_content_type() != "multipart/report":
        raise UnreadableReport(
            f"not a multipart/report but {message.get_content_type()} (a bounce in free text?)"
        )
    report_type = str(message.get_param("report-type") or "").lower()
    parts = _messages(message.get_payload())
    if len(parts) < 2:
        raise UnreadableReport("a multipart/report without its machine-readable part")
    if report_type == "delivery-status":
        return _dsn(parts)
    if report_type == "feedback-report":
        return _arf(parts)
    raise UnreadableReport(f"report-type {report_type or '(missing)'} is neither a DSN nor ARF")


def classify_status(status: str, action: str) -> str | None:
    """RFC 3463 status code and DSN action to what it means for the address."""
    match = _STATUS.match(status)
    if not match:
        raise UnreadableReport(f"Status {status!r} is not an RFC 3463 code")
    klass, subject, detail = match.groups()
    if action in ("delivered", "relayed", "expanded", "delayed"):
        return None  # not a failure (a delay may still be delivered)
    if action != "failed":
        raise UnreadableReport(f"unknown Action {action!r}")
    if klass == "4":
        return "soft"  # the remote MTA gave up after temporary failures
    if subject == "1" or (subject, detail) in (("2", "1"), ("4", "4")):
        return "hard"  # bad address, disabled mailbox, no such domain
    if subject == "7":
        return "block"  # policy or content: not the address's fault
    return "soft"  # mailbox full, system trouble: count, suppress only if it repeats


def _messages(payload: object) -> list[Message]:
    """The sub-messages of a multipart or message/* payload (nothing else counts)."""
    if not isinstance(payload, list):
        return []
    return [p for p in payload if isinstance(p, Message)]


def _fields(block: Message) -> dict[str, str]:
    return {k.lower(): " ".join(str(v).split()) for k, v in block.items()}


def _dsn(parts: list[Message]) -> ParsedReport:
    status_part = next(
        (p for p in parts if p.get_content_type() == "message/delivery-status"), None
    )
    if status_part is None:
        raise UnreadableReport("a delivery-status report without a message/delivery-status part")
    blocks = _messages(status_part.get_payload())
    if len(blocks) < 2:
        raise UnreadableReport("the delivery-status part has no per-recipient fields")
    per_message = _fields(blocks[0])
    recipients = [_fields(b) for b in blocks[1:]]
    # The failed recipient decides (VERP: one recipient per envelope); else the first.
    chosen = next((r for r in recipients if r.get("action", "").lower() == "failed"), recipients[0])
    action = chosen.get("action", "").lower()
    if not action:
        raise UnreadableReport("the DSN names no Action for its recipient")
    status = chosen.get("status")
    if not status:
        raise UnreadableReport("the DSN gives no Status for its recipient (RFC 3464 requires it)")
    outcome = classify_status(status, action)
    recipient = _address(chosen.get("final-recipient") or chosen.get("original-recipient"))
    diagnostic = chosen.get("diagnostic-code", "")
    detail = f"{status.split()[0]} {action}"
    if diagnostic:
        detail += f": {diagnostic.partition(';')[2].strip() or diagnostic}"
    return ParsedReport(
        kind="dsn",
        outcome=outcome,
        recipient=recipient,
        detail=detail[:_MAX_DETAIL],
        original=_original(parts),
        summary={
            "reporting_mta": per_message.get("reporting-mta"),
            "action": action,
            "status": status.split()[0],
            "diagnostic": diagnostic[:_MAX_DETAIL] or None,
            "final_recipient": recipient,
        },
    )


def _arf(parts: list[Message]) -> ParsedReport:
    feedback = next((p for p in parts if p.get_content_type() == "message/feedback-report"), None)
    if feedback is None:
        raise UnreadableReport("a feedback report without a message/feedback-report part")
    fields = _feedback_fields(feedback)
    feedback_type = fields.get("feedback-type", "").lower()
    if not feedback_type:
        raise UnreadableReport("the feedback report has no Feedback-Type")
    original = _original(parts)
    recipient = _address(fields.get("original-rcpt-to")) or _address(original.to)
    # abuse (and fraud, a kind of abuse) is a complaint; not-spam, virus, other are kept
    # for an editor but change nobody's status.
    outcome = "complaint" if feedback_type in ("abuse", "fraud") else None
    return ParsedReport(
        kind="arf",
        outcome=outcome,
        recipient=recipient,
        detail=f"complaint ({feedback_type}) from {fields.get('user-agent', 'unknown agent')}"[
            :_MAX_DETAIL
        ],
        original=original,
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
    if isinstance(payload, list) and _messages(payload):
        return _fields(_messages(payload)[0])
    if isinstance(payload, str):
        return _fields(email.message_from_string(payload, policy=email.policy.compat32))
    raise UnreadableReport("the message/feedback-report part is empty")


def _original(parts: list[Message]) -> Original:
    """Headers of the message a report is about (message/rfc822 or text/rfc822-headers)."""
    for part in parts:
        kind = part.get_content_type()
        headers: Message | None = None
        if kind in ("message/rfc822", "message/global"):
            inner = _messages(part.get_payload())
            if inner:
                headers = inner[0]
        elif kind in ("text/rfc822-headers", "message/global-headers"):
            text = part.get_payload(decode=True)
            if isinstance(text, bytes):
                headers = email.message_from_bytes(text, policy=email.policy.compat32)
        if headers is not None:
            return original_from_headers(headers)
    return Original()


def original_from_headers(headers: Message) -> Original:
    def one(name: str) -> str | None:
        value = headers.get(name)
        return " ".join(str(value).split()) if value else None

    return Original(
        message_id=one("Message-ID"),
        return_path=_address(one("Return-Path")),
        list_unsubscribe=one("List-Unsubscribe"),
        to=one("To"),
    )


def _address(value: str | None) -> str | None:
    """'rfc822; someone@example.org' or '<someone@example.org>' -> someone@example.org."""
    if not value:
        return None
    text = value.partition(";")[2] if ";" in value else value
    _, address = email.utils.parseaddr(text.strip())
    return address or None


def status_in_text(text: str) -> str | None:
    """The first RFC 3463 code in an SMTP reply or provider description."""
    match = _CODE_IN_TEXT.search(text)
    return ".".join(match.groups()) if match else None
