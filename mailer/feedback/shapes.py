"""What a report reader returns, and the small helpers every reader shares."""

from __future__ import annotations

import email
import email.policy
import email.utils
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

MAX_DETAIL = 1000


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
    kind: str  # dsn, arf, text (another MTA's bounce format), autoreply
    # hard, soft or block; complaint. None: nothing to act on (delivered, a delay warning,
    # an auto-reply, a feedback type other than abuse) -- kept, marked ignored.
    outcome: str | None
    recipient: str | None
    detail: str
    original: Original
    summary: dict[str, Any] = field(default_factory=dict)
    # failed, delayed, delivered, complaint, feedback, autoreply, unrecognised
    category: str = "failed"


def messages(payload: object) -> list[Message]:
    """The sub-messages of a multipart or message/* payload (nothing else counts)."""
    if not isinstance(payload, list):
        return []
    return [p for p in payload if isinstance(p, Message)]


def headers_of(part: Message) -> Message | None:
    """The quoted original of a report part, if the part is one."""
    kind = part.get_content_type()
    if kind in ("message/rfc822", "message/global"):
        inner = messages(part.get_payload())
        return inner[0] if inner else None
    if kind in ("text/rfc822-headers", "message/global-headers"):
        text = part.get_payload(decode=True)
        if isinstance(text, bytes):
            return email.message_from_bytes(text.lstrip(), policy=email.policy.compat32)
    return None


def original_from_headers(headers: Message) -> Original:
    def one(name: str) -> str | None:
        value = headers.get(name)
        return " ".join(str(value).split()) if value else None

    return Original(
        message_id=one("Message-ID"),
        return_path=address_in(one("Return-Path")),
        list_unsubscribe=one("List-Unsubscribe"),
        to=one("To"),
    )


def address_in(value: str | None) -> str | None:
    """'rfc822; someone@example.org' or '<someone@example.org>' -> someone@example.org."""
    if not value:
        return None
    text = value.partition(";")[2] if ";" in value else value
    _, address = email.utils.parseaddr(text.strip())
    return address if "@" in address else None
