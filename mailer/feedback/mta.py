"""Everything that comes back to a bounce address and is not a standard report: auto-replies
and vacation messages (RFC 3834 and the common shapes without it), delay warnings, and
the bounce formats of Exim, qmail, Postfix, Exchange, Yahoo, AOL, GroupWise, Lotus Notes
and others, read by flufl.bounce (GNU Mailman's detectors)."""

from __future__ import annotations

import email.utils
import logging
import re
from email.header import decode_header, make_header
from email.message import Message

from flufl.bounce import all_failures

from mailer.feedback.shapes import (
    MAX_DETAIL,
    Original,
    ParsedReport,
    headers_of,
    messages,
    original_from_headers,
)
from mailer.feedback.status import classify_failure

log = logging.getLogger(__name__)

MAX_TEXT = 16 * 1024
_DAEMON_LOCAL = re.compile(
    r"^(mailer-?daemon|mail-?daemon|postmaster|mail-?delivery|mail-?system|"
    r"maildelivery|mailadmin|mmdf|smtp-?gateway|nobody|root)$",
    re.IGNORECASE,
)
_DAEMON_NAME = re.compile(r"mail delivery|mail system|delivery subsystem|mailer", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|non-?deliver|delivery (status notification|failure|failed|problem|report)|"
    r"failure notice|failed delivery|returned mail|returned to sender|could not be delivered|"
    r"mail delivery (failed|system|subsystem)|delivery has failed|not delivered|"
    r"nicht zustellbar|unzustellbar|non remis|no se pudo entregar|bounce",
    re.IGNORECASE,
)
_AUTOREPLY_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response|antwort)|"
    r"auto:|autoreply|vacation|away from (my|the) (e-?mail|office|desk)|on (vacation|leave|"
    r"holiday)|abwesen|(re|ré)ponse automatique|absence|respuesta autom|fuera de la oficina|"
    r"risposta automatica|automatisch antwoord|afwezig|i am (away|out))",
    re.IGNORECASE,
)
_AUTOREPLY_BODY = re.compile(
    r"\b(i am|i'm|i will be) (currently )?(out of (the )?office|away|on (vacation|leave|"
    r"holiday|annual leave|parental leave))|\bout of (the )?office (until|from|on)\b|"
    r"limited access to (my )?e-?mail|this is an automat(ic|ed) (reply|response)",
    re.IGNORECASE,
)
_DELAY_SUBJECT = re.compile(
    r"\bdelay(ed)?\b|^\s*warning:|still being retried|not yet (been )?delivered", re.IGNORECASE
)
_DELAY_BODY = re.compile(
    r"not yet been delivered|has not been delivered yet|will (continue to|keep) (try|attempt)|"
    r"will be retried|delivery attempts will continue|still trying|will retry|"
    r"this is a warning message only|warning only|just a warning|"
    r"no action is required on your part|"
    r"delivery (of your message )?has been delayed|has been postponed",
    re.IGNORECASE,
)
# Where a bounce stops describing the failure and starts quoting the original.
_QUOTE_START = re.compile(
    r"^\s*(-{2,}.*(original message|below this line|copy of the message|returned mail|"
    r"message text|undelivered message|headers? follow|message headers)|"
    r"original message (follows|attached)|-+ ?(start of )?returned message|"
    r"\*+ ?returned message)",
    re.IGNORECASE | re.MULTILINE,
)
_ADDRESS = re.compile(r"<?([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)>?")


def read_other(message: Message) -> ParsedReport:
    """A message that holds no DSN or ARF part: a complaint in Microsoft's own format, an
    auto-reply, a delay warning, another MTA's bounce, or something unrecognised (which a
    signed bounce address still makes a bounce: counted as soft)."""
    subject = _header(message, "Subject")
    sender = email.utils.parseaddr(_header(message, "From"))
    text = body_text(message)
    original = _original(message)
    jmrp = _microsoft_complaint(message)
    if jmrp is not None:
        return ParsedReport(
            kind="arf",
            outcome="complaint",
            recipient=jmrp,
            detail="abuse report from a Microsoft feedback loop (JMRP)",
            original=original,
            category="complaint",
            summary={"feedback_type": "abuse", "format": "microsoft-jmrp"},
        )
    daemon = _from_daemon(sender) or bool(_BOUNCE_SUBJECT.search(subject))
    if not daemon and (why := autoreply_reason(message, subject, text)):
        return ParsedReport(
            kind="autoreply",
            outcome=None,
            recipient=sender[1] or None,
            detail=f"auto-reply ({why}): {subject}"[:MAX_DETAIL],
            original=original,
            category="autoreply",
            summary={"autoreply": why, "subject": subject[:200], "from": sender[1] or None},
        )
    if _DELAY_BODY.search(text) and (not subject or _DELAY_SUBJECT.search(subject)):
        return _result("delayed", None, _guess(text, sender[1]), text, original, subject)
    temporary, permanent = _detected(message)
    if permanent or temporary:
        failed = sorted(a.decode("ascii", "replace") for a in permanent | temporary)
        address = failed[0]
        if not permanent:  # the detectors' "temporary" is a delay warning
            return _result("delayed", None, address, text, original, subject, failed)
        outcome, code = classify_failure(_around(text, address), permanent=True)
        return _result("failed", outcome, address, text, original, subject, failed, code)
    # Unrecognised: hard only where the words say so; else counted as soft (the signed
    # address proves a delivery came back, not why).
    outcome, code = classify_failure(text, permanent=False)
    if not daemon:
        outcome = "soft"  # no failure words from a person's address: count it, mildly
    return _result(
        "unrecognised", outcome, _guess(text, sender[1]), text, original, subject, code=code
    )


def autoreply_reason(message: Message, subject: str, text: str) -> str | None:
    """Why this is an auto-reply (RFC 3834 Auto-Submitted, the headers of vacation
    programs and Exchange, or the usual subjects and wording), or None."""
    submitted = _header(message, "Auto-Submitted").split(";")[0].strip().lower()
    if submitted and submitted != "no":
        return f"Auto-Submitted: {submitted}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponse", "X-Vacation"):
        if message.get(name) is not None:
            return name
    if _header(message, "Precedence").lower() == "auto_reply":
        return "Precedence: auto_reply"
    if _header(message, "X-Auto-Response-Suppress") and _AUTOREPLY_SUBJECT.search(subject):
        return "Exchange automatic reply"
    if _AUTOREPLY_SUBJECT.search(subject):
        return "subject"
    if _AUTOREPLY_BODY.search(text[:2000]):
        return "wording"
    return None


def body_text(message: Message) -> str:
    """The failure notice's own words: its text parts (not the quoted original's), decoded,
    cut where the original starts, at most MAX_TEXT characters."""
    chunks: list[str] = []
    _collect(message, chunks, 0)
    text = "\n".join(chunks)[:MAX_TEXT]
    cut = _QUOTE_START.search(text)
    return text[: cut.start()] if cut and cut.start() > 40 else text


def _collect(part: Message, chunks: list[str], depth: int) -> None:
    if depth > 4:
        return
    kind = part.get_content_type()
    if kind in ("message/rfc822", "text/rfc822-headers", "message/global") and depth > 0:
        return  # the quoted original: its words are not the bounce's
    if part.is_multipart():
        for sub in messages(part.get_payload()):
            _collect(sub, chunks, depth + 1)
        return
    if part.get_content_maintype() != "text":
        return
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, "replace")
    except LookupError:
        text = payload.decode("utf-8", "replace")
    if kind == "text/html":
        if chunks:
            return  # the plain alternative said it already
        text = re.sub(r"<[^>]*>", " ", re.sub(r"(?is)<(style|script).*?</\1>", " ", text))
    chunks.append(text)


def _detected(message: Message) -> tuple[frozenset[bytes], frozenset[bytes]]:
    try:
        return all_failures(message)
    except Exception:  # a detector tripped on an odd message: the others decide
        log.warning("a flufl.bounce detector failed on a message", exc_info=True)
        return frozenset(), frozenset()


def _result(
    category: str,
    outcome: str | None,
    address: str | None,
    text: str,
    original: Original,
    subject: str,
    failed: list[str] | None = None,
    code: str | None = None,
) -> ParsedReport:
    reason = _reason(text, address, code)
    label = {"delayed": "delay warning", "unrecognised": "unrecognised bounce"}.get(
        category, f"{outcome} bounce"
    )
    return ParsedReport(
        kind="text",
        outcome=outcome,
        recipient=address,
        detail=f"{code + ' ' if code else ''}{label}: {reason}"[:MAX_DETAIL],
        original=original,
        category=category,
        summary={
            "format": "detected" if failed else "free text",
            "failed": failed or [],
            "status": code,
            "subject": subject[:200],
            "reason": reason,
        },
    )


def _reason(text: str, address: str | None, code: str | None) -> str:
    """The line that says why: the one with the status code, else the address's."""
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    for needle in (code, address):
        if needle:
            for index, line in enumerate(lines):
                if needle.lower() in line.lower():
                    following = lines[index + 1] if index + 1 < len(lines) else ""
                    joined = line if len(line) > 40 or not following else f"{line} {following}"
                    return joined[:300]
    return (lines[0] if lines else "(no text)")[:300]


def _around(text: str, address: str) -> str:
    """The part of the text that speaks of this address (the next lines), else all of it."""
    at = text.lower().find(address.lower())
    return text[at : at + 1500] if at >= 0 else text


def _guess(text: str, sender: str) -> str | None:
    for match in _ADDRESS.finditer(text):
        local = match.group(1).partition("@")[0]
        if match.group(1).lower() != sender.lower() and not _DAEMON_LOCAL.match(local):
            return match.group(1)
    return None


def _from_daemon(sender: tuple[str, str]) -> bool:
    name, address = sender
    local = address.partition("@")[0]
    return bool(_DAEMON_LOCAL.match(local) or _DAEMON_NAME.search(name)) or not address


def _microsoft_complaint(message: Message) -> str | None:
    """Microsoft's junk-mail reporting program attaches the mail with this header."""
    for part in message.walk():
        headers = headers_of(part)
        if headers is not None and headers.get("X-HmXmrOriginalRecipient"):
            return email.utils.parseaddr(str(headers["X-HmXmrOriginalRecipient"]))[1] or None
    return None


def _original(message: Message) -> Original:
    for part in message.walk():
        headers = headers_of(part)
        if headers is not None:
            return original_from_headers(headers)
    return Original()


def _header(message: Message, name: str) -> str:
    value = message.get(name)
    if value is None:
        return ""
    try:
        return " ".join(str(make_header(decode_header(str(value)))).split())
    except (UnicodeError, LookupError, ValueError):
        return " ".join(str(value).split())
