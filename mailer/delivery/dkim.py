"""DKIM signing (dkimpy): relaxed/relaxed, with the headers a forger would copy or add
over-signed, so that a second From, Subject or List-* header breaks the signature."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

# Signed where present. Absent ones are signed too (as empty): adding one later breaks it.
SIGNED = (
    b"from",
    b"reply-to",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
    b"list-id",
    b"list-archive",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"feedback-id",
    b"auto-submitted",
)
# Named a second time in h=: each of these appears at most once in our mail, so the extra
# entry signs "no further instance", which is what over-signing means (RFC 6376 8.15).
OVERSIGNED = (
    b"from",
    b"reply-to",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"list-id",
    b"list-archive",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"feedback-id",
    b"auto-submitted",
)


def dkim_signer(key_file: Path, selector: str, domain: str) -> Callable[[bytes], bytes]:
    """A function returning the DKIM-Signature header for a message (rsa-sha256,
    c=relaxed/relaxed, over-signed headers)."""
    import dkim

    private_key = key_file.read_bytes()
    headers = list(SIGNED + OVERSIGNED)

    def sign(message: bytes) -> bytes:
        signature: bytes = dkim.sign(
            message,
            selector.encode(),
            domain.encode(),
            private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=headers,
            linesep=b"\r\n",
        )
        return signature

    return sign
