"""Checking and normalising the rows of an import, a chunk at a time, touching nothing else.

A pure function of the rows (it may run in another thread or process): every row comes
out either as a `Row` ready for the staging table or as a reject with a reason key (for
the summary) and a sentence (for the rejects file).
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from email_validator import EmailNotValidError

from mailer.addresses import address_key, normalise_email
from mailer.audience.consent import ledger_ip
from mailer.imports.read import FIELD

MAX_NAME = 100
MAX_SOURCE = 500
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}$")
# Go's time.String(), as in listmonk's export: 2024-01-15 10:30:00.123456789 +0000 UTC
_GO_TIME = re.compile(
    r"^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)(\.\d+)? ([+-]\d\d)(\d\d)(?: [A-Za-z]{1,6})?$"
)
# Spreadsheet formula guard: mailer's CSV export prefixes such cells with a quote.
_GUARDED = re.compile(r"^'[=+\-@\t\r]")


(_EMAIL, _NAME, _FIRST_NAME, _LAST_NAME, _STATUS_FIELD, _TOPICS, _CLEANED_AT, _UNSUBSCRIBED_AT, _IP,
 _OPTIN_IP, _LOCALE_FIELD, _SOURCE) = (FIELD[f] for f in (
    "email", "name", "first_name", "last_name", "status", "topics", "cleaned_at",
    "unsubscribed_at", "ip", "optin_ip", "locale", "source"))  # fmt: skip


class Intent(StrEnum):
    """What a row asks for, from its status (or Mailchimp's UNSUB_TIME / CLEAN_TIME)."""

    SUBSCRIBE = "subscribe"
    PENDING = "pending"  # never confirmed where it comes from
    UNSUBSCRIBE = "unsubscribe"
    SUPPRESS = "suppress"


_STATUS: dict[str, tuple[Intent, str | None] | None] = {
    **dict.fromkeys(
        ("subscribed", "subscribe", "active", "enabled", "confirmed", "opted in", "optin"),
        (Intent.SUBSCRIBE, None),
    ),
    **dict.fromkeys(("pending", "unconfirmed", "not confirmed"), (Intent.PENDING, None)),
    **dict.fromkeys(
        ("unsubscribed", "unsubscribe", "disabled", "opted out", "optout", "inactive"),
        (Intent.UNSUBSCRIBE, None),
    ),
    **dict.fromkeys(
        ("cleaned", "bounced", "hard bounce", "hard_bounce"), (Intent.SUPPRESS, "hard_bounce")
    ),
    **dict.fromkeys(("complained", "complaint", "spam", "abuse"), (Intent.SUPPRESS, "complaint")),
    **dict.fromkeys(
        ("blocklisted", "blacklisted", "blocked", "suppressed", "banned"),
        (Intent.SUPPRESS, "manual"),
    ),
    "erased": None,
}


@dataclass(frozen=True)
class Rules:
    consented: bool  # --consented: a pending row is not proof of consent
    now: datetime  # times later than a day after this are refused
    latest: datetime = field(init=False)  # now + a day

    def __post_init__(self) -> None:
        object.__setattr__(self, "latest", self.now + timedelta(days=1))


class Row(NamedTuple):
    line: int
    email: str
    email_key: str
    name: str | None
    locale: str | None
    intent: str
    consent_at: datetime | None
    created_at: datetime | None
    unsubscribed_at: datetime | None
    ip: str | None
    suppress_reason: str | None
    source: str | None
    topics: tuple[str, ...] | None  # as written; None: the row says nothing about topics


class Reject(NamedTuple):
    line: int
    key: str  # e.g. invalid_address: the summary counts by it
    message: str


class _Refused(Exception):
    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message


def unguard(text: str) -> str:
    return text[1:] if text[:1] == "'" and _GUARDED.match(text) else text


def _texts(values: Sequence[Any]) -> list[str]:
    """Each value as text: stripped, unguarded, "" for None (or a JSON list of topics)."""
    texts = [v.strip() if v.__class__ is str else "" for v in values]
    return [unguard(t) if t[:1] == "'" else t for t in texts]


# Files repeat times (an opt-in and a confirmation time are often one) and topic cells:
# each distinct text is parsed once per worker (the results are immutable).
@functools.lru_cache(maxsize=4096)
def parse_time(text: str) -> datetime | None:
    """ISO 8601 (naive times are UTC) or Go's time.String(); ValueError for anything else."""
    text = text.strip()
    if not text:
        return None
    go = _GO_TIME.match(text)
    if go:
        whole, fraction, hours, minutes = go.groups()
        text = f"{whole}{(fraction or '')[:7]}{hours}:{minutes}"
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _time(texts: list[str], field: str, rules: Rules) -> datetime | None:
    raw = texts[FIELD[field]]
    if not raw:
        return None
    try:
        moment = parse_time(raw)
    except ValueError as exc:
        raise _Refused(
            "invalid_date", f"{field}: {raw[:40]!r} is not a date (use ISO 8601)"
        ) from exc
    if moment is not None and moment > rules.latest:
        raise _Refused("invalid_date", f"{field}: {raw[:40]!r} is in the future")
    return moment


def split_topics(value: Any) -> tuple[str, ...] | None:
    """Topic names or slugs from a cell ('a, b', '"A","B"' as Mailchimp writes tags, 'a;b',
    'a|b') or a JSON list; None when the row has no topics column at all."""
    return _split_topics(tuple(value)) if isinstance(value, list) else _split_topics(value)


@functools.lru_cache(maxsize=4096)
def _split_topics(value: str | tuple[str, ...] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    parts: list[str] = []
    if isinstance(value, tuple):
        parts = [str(v) for v in value]
    elif value.strip():
        for piece in next(csv.reader([value], skipinitialspace=True), []):
            parts.extend(re.split(r"[;|]", piece))
    cleaned = (" ".join(p.split()) for p in parts)
    return tuple(dict.fromkeys(p for p in cleaned if p))


def _name(texts: list[str]) -> str | None:
    name = texts[_NAME]
    if not name:
        first, last = texts[_FIRST_NAME], texts[_LAST_NAME]
        name = f"{first} {last}".strip()
    name = " ".join(name.split())
    if not name:
        return None
    if _CONTROL.search(name) or "<" in name or ">" in name:
        raise _Refused("invalid_name", f"the name {name[:40]!r} contains < > or control characters")
    if len(name) > MAX_NAME:
        raise _Refused("invalid_name", f"the name is longer than {MAX_NAME} characters")
    return name


def _intent(texts: list[str], rules: Rules) -> tuple[Intent, str | None]:
    status = texts[_STATUS_FIELD]
    if status:
        status = " ".join(status.casefold().replace("_", " ").split())
        if status not in _STATUS:
            raise _Refused("invalid_status", f"unknown status {status[:30]!r}")
        found = _STATUS[status]
        if found is None:
            raise _Refused("erased", "an erased address is never imported")
        intent, reason = found
    elif texts[_CLEANED_AT]:
        intent, reason = Intent.SUPPRESS, "hard_bounce"
    elif texts[_UNSUBSCRIBED_AT]:
        intent, reason = Intent.UNSUBSCRIBE, None
    else:
        intent, reason = Intent.SUBSCRIBE, None
    if intent is Intent.PENDING and rules.consented:
        raise _Refused(
            "not_confirmed",
            "never confirmed in the source list, so it is no proof of consent: "
            "import such rows with --opt-in",
        )
    return intent, reason


def _ip(texts: list[str]) -> str | None:
    for position in (_IP, _OPTIN_IP):
        # An IP is a detail of the consent record, not a reason to refuse: a bad one is skipped.
        ip = ledger_ip(texts[position])
        if ip is not None:
            return ip
    return None


def _row(line: int, values: Sequence[Any], rules: Rules) -> Row:
    texts = _texts(values)
    raw = texts[_EMAIL]
    if not raw:
        raise _Refused("missing_address", "no address")
    if len(raw) > 320:
        raise _Refused("invalid_address", "too long to be an address")
    try:
        email = normalise_email(raw)
    except EmailNotValidError as exc:
        raise _Refused("invalid_address", f"{raw[:80]!r}: {exc}") from exc
    intent, reason = _intent(texts, rules)
    optin_at = _time(texts, "optin_at", rules)
    consent_at = _time(texts, "consent_at", rules) or optin_at
    created_at = _time(texts, "created_at", rules) or optin_at
    unsubscribed_at = _time(texts, "unsubscribed_at", rules)
    locale = texts[_LOCALE_FIELD]
    source = texts[_SOURCE]
    if source:
        source = _CONTROL.sub(" ", source)[:MAX_SOURCE].strip()
    return _make_row(
        (  # in Row's field order; tuple.__new__, not Row's Python __new__
            line,
            email,
            address_key(email),
            _name(texts),
            locale if locale and _LOCALE.match(locale) else None,
            intent.value,
            consent_at,
            created_at or consent_at,
            unsubscribed_at,
            _ip(texts),
            reason,
            source or None,
            split_topics(values[_TOPICS]),
        )
    )


_make_row = Row._make


def normalise_rows(
    rules: Rules, records: Sequence[tuple[int, Sequence[Any]]]
) -> tuple[list[Row], list[Reject]]:
    """Rows ready to stage and the rejects, in file order."""
    rows: list[Row] = []
    rejects: list[Reject] = []
    for line, values in records:
        try:
            rows.append(_row(line, values, rules))
        except _Refused as refused:
            rejects.append(Reject(line, refused.key, refused.message))
    return rows, rejects


def normalise_rows_plain(
    rules: Rules, records: Sequence[tuple[int, Sequence[Any]]]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """normalise_rows() as plain tuples, for another process: a NamedTuple pickles
    through copyreg, several times slower than the tuple of its values (Row._make and
    Reject._make give them back)."""
    rows, rejects = normalise_rows(rules, records)
    return [tuple(r) for r in rows], [tuple(r) for r in rejects]
