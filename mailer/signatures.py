"""Webhook signatures, Stripe-style: `Mailer-Signature: t=<unix>,v1=<hex HMAC-SHA256>`.

The MAC covers "<t>.<raw body>"; any configured secret may have made it (rotation), and a
timestamp more than five minutes away from now is refused (replay)."""

from __future__ import annotations

import hmac
import time
from collections.abc import Sequence

from mailer.errors import MailerError
from mailer.numbers import whole_number

HEADER = "Mailer-Signature"
TOLERANCE_SECONDS = 300


class BadSignature(MailerError):
    """The request is not signed by a holder of a webhook secret (or is too old)."""


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for a body: what the website's back end (and our tests) send."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.digest(secret.encode(), f"{t}.".encode() + body, "sha256").hex()
    return f"t={t},v1={mac}"


def verify(
    header: str | None, body: bytes, secrets: Sequence[str], *, now: float | None = None
) -> None:
    """Raise BadSignature unless the header carries a fresh, valid signature."""
    if not secrets:
        raise BadSignature("no webhook secret is configured (MAILER_WEBHOOK_SECRETS)")
    if not header or len(header) > 2000:
        raise BadSignature(f"missing {HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and whole_number(value, max_digits=12) is not None:
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value.lower())
    if timestamp is None or not candidates:
        raise BadSignature(f"malformed {HEADER} header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > TOLERANCE_SECONDS:
        raise BadSignature("signature timestamp is too far from now (replay?)")
    signed = f"{timestamp}.".encode() + body
    for secret in secrets:
        expected = hmac.digest(secret.encode(), signed, "sha256").hex()
        if any(hmac.compare_digest(expected, candidate) for candidate in candidates):
            return
    raise BadSignature("signature does not match")
