"""Parsing a signup (webhook JSON, webhook form, hosted form) into one checked request."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError

from mailer.addresses import normalise_email
from mailer.audience.topics import SLUG
from mailer.errors import InvalidInput

MAX_TOPICS = 50
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}$")


@dataclass(frozen=True)
class SignupRequest:
    email: str  # normalised by email-validator (domain case-folded, IDN in Unicode)
    name: str | None = None
    topics: tuple[str, ...] | None = None  # slugs; None means every public topic
    source: str | None = None
    consent_text: str | None = None
    locale: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    alerts: bool = False  # urgent alerts: only when the form or the website says so


def _text(
    data: Mapping[str, Any], key: str, limit: int, problems: dict[str, str], *, single_line: bool
) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        problems[key] = "must be a string"
        return None
    value = value.strip()
    if len(value) > limit:
        problems[key] = f"at most {limit} characters"
        return None
    if single_line and _CONTROL.search(value):
        problems[key] = "must be a single line without control characters"
        return None
    return value or None


def _topics(value: Any, problems: dict[str, str]) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems["topics"] = "must be a list of topic slugs"
        return None
    if len(value) > MAX_TOPICS:
        problems["topics"] = f"at most {MAX_TOPICS} topics"
        return None
    slugs = tuple(dict.fromkeys(v.strip().lower() for v in value if v.strip()))
    if not slugs:  # such a subscriber would confirm and then never receive anything
        problems["topics"] = "at least one topic (leave the field out for every public topic)"
        return None
    bad = [s for s in slugs if not SLUG.match(s)]
    if bad:
        problems["topics"] = f"not topic slugs: {', '.join(repr(b[:40]) for b in bad[:5])}"
        return None
    return slugs


def _flag(value: Any, key: str, problems: dict[str, str]) -> bool:
    """JSON true/false, or a form's checkbox ("on", "true", "1"); absent means no."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("on", "true", "1", "yes"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("", "off", "false", "0", "no"):
        return False
    problems[key] = "must be true or false"
    return False


def parse_signup(
    data: Any, *, ip: str | None = None, user_agent: str | None = None
) -> SignupRequest:
    """A checked SignupRequest, or InvalidInput naming every field that is wrong."""
    if not isinstance(data, Mapping):
        raise InvalidInput("the body must be a JSON object", {"body": "not an object"})
    problems: dict[str, str] = {}
    email = None
    raw_email = data.get("email")
    if raw_email is not None and not isinstance(raw_email, str):
        problems["email"] = "must be a string"
    elif raw_email is None or not raw_email.strip():
        problems["email"] = "required"
    elif len(raw_email) > 320:
        problems["email"] = "too long to be an address"
    else:
        try:
            email = normalise_email(raw_email)
        except EmailNotValidError as exc:
            problems["email"] = str(exc)
    name = _text(data, "name", 100, problems, single_line=True)
    if name is not None and ("<" in name or ">" in name):
        problems["name"] = "must not contain < or >"
    topics = _topics(data.get("topics"), problems)
    source = _text(data, "source", 500, problems, single_line=True)
    consent_text = _text(data, "consent_text", 5000, problems, single_line=False)
    # `language` (the webhook's name for it) or `locale` (the older name): a tag like es.
    key = "language" if data.get("language") is not None else "locale"
    locale = _text(data, key, 35, problems, single_line=True)
    if locale is not None and not _LOCALE.match(locale):
        problems[key] = "a language tag such as en or pt-BR"
    given_ip = _text(data, "ip", 45, problems, single_line=True)
    given_agent = _text(data, "user_agent", 500, problems, single_line=True)
    alerts = _flag(data.get("alerts"), "alerts", problems)
    if problems or email is None:
        raise InvalidInput("the signup is invalid", problems)
    return SignupRequest(
        email=email,
        name=name,
        topics=topics,
        source=source,
        consent_text=consent_text,
        locale=locale,
        ip=given_ip or ip,
        user_agent=given_agent or user_agent,
        alerts=alerts,
    )
