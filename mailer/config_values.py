"""The kinds of value settings hold (run mode, notice mode, SMTP relay) and the checks of
each value and of values together (read in config.py; kept here so each file stays short)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from email_validator import EmailNotValidError, validate_email

from mailer.settings_fields import INVALID, Getter, Setting

if TYPE_CHECKING:
    from mailer.config import Settings


class Env(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class NoticeMode(StrEnum):
    """What a CMS push may do with an alert or a correction notice."""

    OFF = "off"  # refused
    DRAFT = "draft"  # waits for an editor to confirm the recipient count
    SEND = "send"  # sent at once, without a human


class Pooler(StrEnum):
    """What stands between mailer and PostgreSQL (MAILER_DATABASE_POOLER)."""

    NONE = "none"  # a direct connection, or a pooler in session mode
    TRANSACTION = "transaction"  # PgBouncer, RDS Proxy, Supabase, Neon in transaction mode
    DETECT = "detect"  # find out at start (two probe connections, see mailer/db.py)


class SmtpSecurity(StrEnum):
    NONE = "none"  # plain SMTP (loopback relays, the development sink)
    STARTTLS = "starttls"  # smtp://...?starttls=true
    TLS = "tls"  # smtps:// (implicit TLS)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security: SmtpSecurity = SmtpSecurity.NONE

    def redacted(self) -> str:
        scheme = "smtps" if self.security is SmtpSecurity.TLS else "smtp"
        auth = f"{self.username}:***@" if self.username else ""
        query = "?starttls=true" if self.security is SmtpSecurity.STARTTLS else ""
        return f"{scheme}://{auth}{self.host}:{self.port}{query}"


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe to log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def check_together(settings: Settings, get: Getter, problems: list[str]) -> Settings:
    """The rules no single value decides: what production requires, the defaults made from
    other settings (base URL from the listen address, domains from From, demo from the mode)."""
    production = settings.env is Env.PRODUCTION
    required = {
        "MAILER_DATABASE_URL": "",
        "MAILER_SMTP_URL": "",
        "MAILER_SECRET_KEY": " (32+ random characters)",
        "MAILER_FROM": "",
        "MAILER_POSTAL_ADDRESS": " (anti-spam law)",
    }
    if get("MAILER_SECRET_KEYS") is not None:  # either names the keys
        del required["MAILER_SECRET_KEY"]
    for name, why in required.items():
        if production and get(name) is None:
            problems.append(f"{name} is required in production{why}")
    _check_from(settings.from_address, production, problems)

    base_url = get("MAILER_BASE_URL")
    if base_url is None:
        host = settings.listen_host
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
        if ":" in host:  # an IPv6 address goes in brackets in a URL
            host = f"[{host}]"
        base_url = f"http://{host}:{settings.listen_port}"
    else:
        parts = _split_url(base_url)
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"MAILER_BASE_URL must be an http(s) URL, not {base_url!r}")
        elif production and parts.scheme != "https":
            problems.append("MAILER_BASE_URL must use https in production")

    if settings.dkim_key_file is not None:
        _check_dkim_key(settings.dkim_key_file, problems)
        if not settings.dkim_selector:
            problems.append("MAILER_DKIM_SELECTOR is required with MAILER_DKIM_KEY_FILE")
    if settings.cms_corrections is NoticeMode.OFF:
        problems.append("MAILER_CMS_CORRECTIONS must be 'draft' or 'send'")
    if settings.database_url is None:
        if get("MAILER_DATABASE_LISTEN_URL") is not None:
            problems.append(
                "MAILER_DATABASE_LISTEN_URL goes with MAILER_DATABASE_URL, which is not set"
            )
        if settings.database_pooler is Pooler.TRANSACTION:
            problems.append(
                "MAILER_DATABASE_POOLER=transaction needs MAILER_DATABASE_URL "
                "(the embedded development database has no pooler)"
            )
    demo = not production if get("MAILER_DEMO") is None else settings.demo
    if production and demo:
        problems.append("MAILER_DEMO is for development only: production never gets demo data")

    from_domain = settings.from_address.rpartition("@")[2].rstrip(">").strip().lower()
    from_domain = from_domain or "localhost"
    return replace(
        settings,
        base_url=base_url.rstrip("/"),
        bounce_domain=settings.bounce_domain if get("MAILER_BOUNCE_DOMAIN") else from_domain,
        dkim_domain=settings.dkim_domain if get("MAILER_DKIM_DOMAIN") else from_domain,
        demo=demo,
    )


def database_url(text: str, s: Setting, problems: list[str]) -> str:
    parts = _split_url(text)
    if parts is None:
        problems.append(
            f"{s.env} is not a valid URL: postgresql://user:pass@host:5432/db, "
            "with special characters in the password percent-encoded"
        )
    elif parts.scheme not in ("postgresql", "postgres"):
        problems.append(f"{s.env} must start with postgresql://")
    elif not _has_valid_port(parts):
        problems.append(f"{s.env} has an invalid port")
    elif not parts.hostname and "host=" not in parts.query:
        problems.append(f"{s.env} names no host")
    return text


def smtp_url(text: str, s: Setting, problems: list[str]) -> SmtpSettings:
    parts = _split_url(text)
    if parts is None:
        problems.append(
            f"{s.env} is not a valid URL: smtp://user:pass@host:port, "
            "with special characters in the password percent-encoded"
        )
        return INVALID
    if parts.scheme not in ("smtp", "smtps"):
        problems.append(f"{s.env} must start with smtp:// or smtps://")
        return INVALID
    if not parts.hostname:
        problems.append(f"{s.env} names no host")
        return INVALID
    if not _has_valid_port(parts):
        problems.append(f"{s.env} has an invalid port")
        return INVALID
    starttls = parse_qs(parts.query).get("starttls", ["false"])[-1].lower() in ("1", "true", "yes")
    if parts.scheme == "smtps":
        security = SmtpSecurity.TLS
    elif starttls:
        security = SmtpSecurity.STARTTLS
    else:
        security = SmtpSecurity.NONE
    default_port = {SmtpSecurity.TLS: 465, SmtpSecurity.STARTTLS: 587, SmtpSecurity.NONE: 25}
    return SmtpSettings(
        host=parts.hostname,
        port=parts.port or default_port[security],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        security=security,
    )


def secret_key(text: str, s: Setting, problems: list[str]) -> str:
    if len(text) < 32:
        problems.append(f"{s.env} must be at least 32 characters long")
    return text


def secret_key_list(text: str, s: Setting, problems: list[str]) -> tuple[str, ...]:
    keys = tuple(part.strip() for part in text.split(",") if part.strip())
    if any(len(key) < 32 for key in keys):
        problems.append(f"each of {s.env} must be at least 32 characters long")
    return keys


def secret_list(text: str, s: Setting, problems: list[str]) -> tuple[str, ...]:
    secrets = tuple(part.strip() for part in text.split(",") if part.strip())
    if any(len(secret) < 16 for secret in secrets):
        problems.append(f"each of {s.env} must be at least 16 characters long")
    return secrets


def postal_address(text: str, s: Setting, problems: list[str]) -> str:
    if "\r" in text or "\x00" in text:
        problems.append(f"{s.env} must not contain control characters")
    return text


def reply_to(text: str, s: Setting, problems: list[str]) -> str:
    from email.utils import parseaddr

    text = text.strip()
    if not text:
        return ""
    _, address = parseaddr(text)
    if any(c in text for c in "\r\n\x00") or "@" not in address:
        problems.append(f"{s.env} must be an address (`Name <address>` or a bare address)")
        return ""
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        problems.append(f"{s.env} is not a valid address ({exc})")
    return text


def throttle_limit(text: str, s: Setting, problems: list[str]) -> str:
    text = text.strip()
    if not re.fullmatch(r"\d{1,9}(/\d{1,6})?", text):
        problems.append(f"{s.env} must be MESSAGES_PER_MINUTE or MESSAGES_PER_MINUTE/CONNECTIONS")
        return "0"
    return text


def log_level(text: str, s: Setting, problems: list[str]) -> str:
    level = text.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        problems.append(f"{s.env} must be DEBUG, INFO, WARNING or ERROR, not {level!r}")
    return level


def domain(text: str, s: Setting, problems: list[str]) -> str:
    return text.lower()


def path(text: str, s: Setting, problems: list[str]) -> Path:
    return Path(text)


def notice_mode(text: str, s: Setting, problems: list[str]) -> Any:
    value = text.lower()
    aliases = {"false": "off", "no": "off", "0": "off"}
    aliases |= {"true": "draft", "yes": "draft", "1": "draft"}
    try:
        return NoticeMode(aliases.get(value, value))
    except ValueError:
        problems.append(f"{s.env} must be off, draft (or true) or send, not {text!r}")
        return INVALID


def subject_prefix(text: str, s: Setting, problems: list[str]) -> Any:
    if len(text) > 40 or any(ord(c) < 32 for c in text):
        problems.append(f"a subject prefix must be one line of at most 40 characters: {text!r}")
        return INVALID
    return text


def _split_url(url: str) -> SplitResult | None:
    """The URL's parts, or None when it cannot be read at all (e.g. an unclosed '[')."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def _has_valid_port(parts: SplitResult) -> bool:
    try:
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        return False
    return True


def _check_dkim_key(path: Path, problems: list[str]) -> None:
    """A key dkimpy cannot read would fail every mail at send time: refuse it at start."""
    from dkim.crypto import UnparsableKeyError, parse_pem_private_key

    if not path.is_file():
        problems.append(f"MAILER_DKIM_KEY_FILE {path} does not exist")
        return
    try:
        parse_pem_private_key(path.read_bytes())
    except OSError as exc:
        problems.append(f"MAILER_DKIM_KEY_FILE {path} cannot be read: {exc.strerror}")
    except (UnparsableKeyError, ValueError):
        problems.append(f"MAILER_DKIM_KEY_FILE {path} is not a PEM RSA private key")


def _check_from(value: str, production: bool, problems: list[str]) -> None:
    from email.headerregistry import Address
    from email.utils import parseaddr

    if any(c in value for c in "\r\n\x00"):
        problems.append("MAILER_FROM must not contain line breaks")
        return
    _, address = parseaddr(value)
    try:
        validate_email(address, check_deliverability=False, globally_deliverable=production)
        Address(addr_spec=address)
    except (EmailNotValidError, ValueError, IndexError) as exc:
        problems.append(f"MAILER_FROM is not a valid address ({exc})")
