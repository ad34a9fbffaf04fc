"""What a failure means for an address: RFC 3463 enhanced status codes first, then the
words mail servers write in their diagnostics (each MTA has its own), then the bare SMTP
reply code. Pure functions over text."""

from __future__ import annotations

import re

from mailer.feedback.shapes import UnreadableReport

_STATUS = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_BASIC = re.compile(r"(?<![\d.#-])([45])([0-5])(\d)(?![\d.])")
# Order matters: a full mailbox is never a dead address, and a policy block names spam or
# reputation even where it also says "rejected".
_SOFT = re.compile(
    r"mailbox (is )?full|over ?quota|quota (exceeded|full)|exceed(s|ed)? (the )?(storage|quota|"
    r"size)|insufficient (system )?storage|mailbox size limit|storage (space|allocation)|"
    r"disk full|too much mail|message too (large|big)",
    re.IGNORECASE,
)
_BLOCK = re.compile(
    r"\bspam\b|junk mail|block ?list|black ?list|deny ?list|\bblocked\b|\bpolicy\b|"
    r"reputation|\bdmarc\b|\bspf\b|\bdkim\b|\brbl\b|spamhaus|content (rejected|filter)|"
    r"\bvirus\b|malware|banned|(?<!not )listed (at|on|in) |not accepted for policy|prohibited",
    re.IGNORECASE,
)
_HARD = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|recipient|address|account|person|domain)|"
    r"(does not|doesn't|did not|not) exist|unknown (recipient|address|mailbox|local|alias)|"
    r"invalid (recipient|mailbox|address|user)|recipient (address )?rejected|"
    r"mailbox (unavailable|not found|disabled|is disabled|is inactive|not available)|"
    r"account (is |has been )?(disabled|closed|deactivated|inactive|suspended|expired)|"
    r"(user|recipient|address|mailbox) (not found|unknown|invalid)|no mailbox|"
    r"bad destination mailbox|not a valid (mailbox|recipient|user|address)|unrouteable|"
    r"host unknown|host not found|domain (not found|does not exist|unknown)|"
    r"name or service not known|no mx|unknown local part|addressee unknown|"
    r"not our customer|no longer (active|available|in use|valid)|mailbox has been removed|"
    r"not listed in (the )?(domino|directory|address book|public)|"
    r"no route (found )?to (domain|host)|disabled recipient|user doesn't have an? .* account|"
    r"the email account that you tried",
    re.IGNORECASE,
)
_TEMPORARY = re.compile(
    r"temporar|try again|timed? ?out|connection refused|deferred|too many (connections|"
    r"messages|recipients)|rate limit|greylist|unable to connect|could not connect",
    re.IGNORECASE,
)


def classify_status(status: str, action: str) -> str | None:
    """RFC 3463 status code and DSN action to what it means for the address."""
    match = _STATUS.match(status)
    if not match:
        raise UnreadableReport(f"Status {status!r} is not an RFC 3463 code")
    if action in ("delivered", "relayed", "expanded", "delayed"):
        return None  # not a failure (a delay may still be delivered)
    if action != "failed":
        raise UnreadableReport(f"unknown Action {action!r}")
    return _code_class(*match.groups())


def _code_class(klass: str, subject: str, detail: str) -> str:
    if klass == "4":
        return "soft"  # the remote MTA gave up after temporary failures
    if subject == "1" or (subject, detail) in (("2", "1"), ("4", "4")):
        return "hard"  # bad address, disabled mailbox, no such domain
    if subject == "7":
        return "block"  # policy or content: not the address's fault
    return "soft"  # mailbox full, system trouble: count, suppress only if it repeats


def _specific(klass: str, subject: str, detail: str) -> bool:
    """A code that says something on its own: 5.1.1, 5.7.1, 5.2.2, any 4.x.x. Codes like
    5.0.0, 5.5.0 or 5.4.1 (used by some providers for unknown users) need the words."""
    return klass == "4" or subject in ("1", "7") or (subject, detail) in (("2", "1"), ("2", "2"))


def classify_failure(text: str, *, permanent: bool = True) -> tuple[str, str | None]:
    """(hard|soft|block, the status code found) for a failure described in free text.
    `permanent` is what the reader already knows (a DSN's failed Action, a detector's
    permanent list); it decides when the text says nothing clear."""
    codes = [m.groups() for m in _ENHANCED.finditer(text) if m.group(1) != "2"]
    code = ".".join(codes[0]) if codes else None
    for klass, subject, detail in codes:
        if _specific(klass, subject, detail):
            return _code_class(klass, subject, detail), f"{klass}.{subject}.{detail}"
    if _SOFT.search(text):
        return "soft", code
    if _BLOCK.search(text):
        return "block", code
    if _HARD.search(text):
        return "hard", code
    if codes:
        return _code_class(*codes[0]), code
    basic = _BASIC.search(text)
    if basic is not None:
        reply = "".join(basic.groups())
        return ("soft" if reply.startswith("4") else "hard"), reply
    if _TEMPORARY.search(text):
        return "soft", None
    return ("hard" if permanent else "soft"), None


def status_in_text(text: str) -> str | None:
    """The first RFC 3463 code in an SMTP reply or provider description."""
    match = _ENHANCED.search(text)
    return ".".join(match.groups()) if match else None
