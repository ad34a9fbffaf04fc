"""Settings read once from MAILER_* environment variables (and an optional .env file)."""

from __future__ import annotations

import difflib
import io
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from email_validator import EmailNotValidError, validate_email

from mailer.config_bounces import BounceSettings, HookSettings, parse_bounce_settings
from mailer.errors import ConfigError, StartupError
from mailer.numbers import whole_number

N = TypeVar("N", int, float)

# The development-only route of the bundled demo feed (mailer/web/start.py).
DEMO_FEED_PATH = "/demo/feed.xml"


class Env(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class NoticeMode(StrEnum):
    """What a CMS push may do with an alert or a correction notice."""

    OFF = "off"  # refused
    DRAFT = "draft"  # waits for an editor to confirm the recipient count
    SEND = "send"  # sent at once, without a human


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


@dataclass(frozen=True)
class Settings:
    # development (embedded defaults allowed) or production (every external part required).
    env: Env = Env.DEVELOPMENT
    # postgresql://user:pass@host:port/db; None in development starts an embedded PostgreSQL.
    database_url: str | None = field(default=None, repr=False)
    # smtp://user:pass@host:port[?starttls=true] or smtps://...; None in development runs
    # an in-process SMTP sink whose mails are readable at /dev/outbox.
    smtp: SmtpSettings | None = None
    # host:port the web server binds to.
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    # Public URL prefix of every link in mail and pages (no trailing slash).
    base_url: str = "http://127.0.0.1:8080"
    # Signs links and tokens; generated once into the data dir in development.
    secret_key: str = field(default="", repr=False)
    # Accepted webhook signing secrets; several allow rotation without downtime.
    webhook_secrets: tuple[str, ...] = field(default=(), repr=False)
    # From header of every mail: "Name <address>" or a bare address.
    from_address: str = "Newsroom <newsroom@example.org>"
    # The sender's physical postal address, printed in every mail footer.
    postal_address: str = ""
    # Where development state lives: embedded database, dev outbox, generated secret key.
    data_dir: Path = Path(".mailer")
    # Messages sent at once over pooled SMTP connections by one worker process.
    smtp_concurrency: int = 10
    # Global send rate limit in messages per second; 0 means unlimited.
    send_rate: float = 0.0
    # Python logging level name.
    log_level: str = "INFO"
    # The organisation's name, shown in mails and pages, and its logo's URL for the pages.
    organisation: str = "Newsroom"
    logo_url: str = ""
    # Domain of the per-delivery bounce addresses (bounces+<id>-<sig>@domain); From's by default.
    bounce_domain: str = "example.org"
    # First retry delay after a temporary failure; doubles per attempt (with jitter) up to
    # retry_max_delay, and the delivery fails once it is older than retry_max_age.
    retry_base_seconds: float = 60.0
    retry_max_delay_seconds: float = 3600.0
    retry_max_age_seconds: float = 3 * 24 * 3600.0
    # How long a worker may hold claimed rows before others may take them back.
    lease_seconds: float = 120.0
    # Rows claimed per round trip by a worker.
    claim_batch: int = 200
    # Delivery worker processes `mailer serve` runs (role all or worker).
    worker_processes: int = 1
    # How long a confirmation link works.
    confirm_ttl_seconds: float = 7 * 24 * 3600.0
    # Send a welcome mail after confirmation (the welcome page is always shown).
    welcome_mail: bool = False
    # Unconfirmed signups are purged after this many days.
    pending_purge_days: int = 30
    # Trust X-Forwarded-For from a reverse proxy for client addresses (rate limits, consent).
    trust_proxy: bool = False
    # Hosted signup form submissions per client IP per minute (the signed webhook: 20x this).
    signup_rate_per_ip: int = 10
    # Let feed sources point at loopback or private addresses (off: no SSRF through a feed).
    feed_allow_private: bool = False
    # Optional DKIM signing: PEM private key file, selector, and signing domain (From's by default).
    dkim_key_file: Path | None = None
    dkim_selector: str = ""
    dkim_domain: str = ""
    # The CMS's `urgent` flag: off (refused), draft (an alert awaiting an editor) or send;
    # its `correction` note: draft (the notice awaits an editor) or send. See the README.
    cms_alerts: NoticeMode = NoticeMode.OFF
    cms_corrections: NoticeMode = NoticeMode.DRAFT
    # Alerts the CMS may create per hour; more are refused with 429 and Retry-After.
    cms_alerts_per_hour: int = 5
    # Subject prefixes of the alert and correction streams.
    alert_subject_prefix: str = "[Alert]"
    correction_subject_prefix: str = "[Correction]"
    # Bounce and complaint intake and policy; outbound event webhooks (config_bounces.py).
    bounces: BounceSettings = field(default_factory=BounceSettings)
    hooks: HookSettings = field(default_factory=HookSettings)
    # Seed demo data (topics, the demo feed, a series, an admin) on the first start with an
    # empty database; development only (mailer/demo/seed.py).
    demo: bool = True
    # MAILER_* variables that are set but mean nothing to mailer (a typo, a removed
    # setting): one sentence each, logged as a warning at start and shown by `mailer config`.
    ignored: tuple[str, ...] = ()

    @property
    def is_production(self) -> bool:
        return self.env is Env.PRODUCTION

    @property
    def demo_feed_url(self) -> str:
        """Where this instance serves the demo feed to itself (development only)."""
        host = self.listen_host
        if host in ("", "0.0.0.0", "localhost"):  # noqa: S104 -- every address or a name: loopback
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.listen_port}{DEMO_FEED_PATH}"

    @property
    def feed_trusted_urls(self) -> frozenset[str]:
        """Feed URLs fetched although they are on loopback: in development only the demo feed
        the instance serves itself, so the SSRF guard stays closed to everything else."""
        return frozenset() if self.is_production else frozenset({self.demo_feed_url})

    def redacted(self) -> dict[str, str]:
        """Effective settings for display, with every secret masked."""
        shown: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "database_url":
                shown[f.name] = redact_url(value) if value else "(embedded PostgreSQL)"
            elif f.name == "smtp":
                shown[f.name] = value.redacted() if value else "(development SMTP sink)"
            elif f.name == "secret_key":
                shown[f.name] = "***" if value else "(unset)"
            elif f.name == "dkim_key_file":
                shown[f.name] = str(value) if value else "(DKIM off)"
            elif f.name in ("bounces", "hooks"):
                shown[f.name] = value.redacted()
            elif f.name == "ignored":
                shown[f.name] = "; ".join(value) if value else "(none)"
            elif f.name == "webhook_secrets":
                shown[f.name] = f"{len(value)} configured" if value else "(none)"
            else:
                shown[f.name] = str(value)
        return shown


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe to log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def load_settings(environ: Mapping[str, str] | None = None, *, dotenv: bool = True) -> Settings:
    """Read and validate settings; raises ConfigError listing every problem at once."""
    env = dict(os.environ if environ is None else environ)
    problems: list[str] = []
    if dotenv:
        named = env.get("MAILER_DOTENV")
        env = {**_read_dotenv(Path(named or ".env"), problems, named=bool(named)), **env}
    asked: set[str] = set()
    settings = _parse(env, problems, asked)
    if problems:
        raise ConfigError(problems)
    return replace(settings, ignored=_ignored(env, asked))


# Read elsewhere: where the packaged files are (container images); the test suite's and
# the benchmarks' own variables.
_READ_ELSEWHERE = frozenset(
    {
        "MAILER_DOTENV",
        "MAILER_MIGRATIONS_DIR",
        "MAILER_TEMPLATES_DIR",
        "MAILER_TEST_DATABASE_URL",
        "MAILER_BENCH_DATABASE_URL",
        "MAILER_UPDATE_SCREENSHOTS",
    }
)


def _ignored(env: Mapping[str, str], asked: set[str]) -> tuple[str, ...]:
    """A sentence for each MAILER_* variable that no setting reads, with a likely meant one."""
    known = asked | _READ_ELSEWHERE
    sentences = []
    for name in sorted(n for n in env if n.startswith("MAILER_") and n not in known):
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}?)" if close else ""
        sentences.append(f"{name} is not a mailer setting and is ignored{hint}")
    return tuple(sentences)


def _read_dotenv(path: Path, problems: list[str], *, named: bool) -> dict[str, str]:
    """The file's settings. ./.env may be absent; a file MAILER_DOTENV names must exist
    (os.devnull names none), and a line that is not NAME=value is a problem, not a skip."""
    if not path.exists():
        if named:
            problems.append(f"MAILER_DOTENV names {path}, which does not exist")
        return {}
    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"cannot read {path}: {exc}")
        return {}
    bad = [b.original.line for b in parse_stream(io.StringIO(text)) if b.error]
    if bad:
        lines = ", ".join(str(n) for n in bad)
        problems.append(f"{path}: line {lines} is not NAME=value")
        return {}
    return {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}


def _parse(env: Mapping[str, str], problems: list[str], asked: set[str]) -> Settings:
    def get(name: str) -> str | None:
        asked.add(name)
        value = env.get(name, "").strip()
        return value or None

    mode = get("MAILER_ENV") or "development"
    try:
        run_env = Env(mode)
    except ValueError:
        problems.append(f"MAILER_ENV must be 'development' or 'production', not {mode!r}")
        run_env = Env.DEVELOPMENT
    production = run_env is Env.PRODUCTION

    database_url = get("MAILER_DATABASE_URL")
    if database_url is not None:
        _check_database_url(database_url, problems)
    elif production:
        problems.append("MAILER_DATABASE_URL is required in production")

    smtp = None
    smtp_url = get("MAILER_SMTP_URL")
    if smtp_url is not None:
        smtp = _parse_smtp_url(smtp_url, problems)
    elif production:
        problems.append("MAILER_SMTP_URL is required in production")

    host, port = _parse_listen(get("MAILER_LISTEN") or "127.0.0.1:8080", problems)

    base_url = get("MAILER_BASE_URL")
    if base_url is None:
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
        if ":" in shown_host:  # an IPv6 address goes in brackets in a URL
            shown_host = f"[{shown_host}]"
        base_url = f"http://{shown_host}:{port}"
    else:
        parts = _split_url(base_url)
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"MAILER_BASE_URL must be an http(s) URL, not {base_url!r}")
        elif production and parts.scheme != "https":
            problems.append("MAILER_BASE_URL must use https in production")
    base_url = base_url.rstrip("/")

    data_dir = Path(get("MAILER_DATA_DIR") or ".mailer")

    secret_key = get("MAILER_SECRET_KEY")
    if secret_key is None:
        if production:
            problems.append("MAILER_SECRET_KEY is required in production (32+ random characters)")
            secret_key = ""
        else:
            secret_key = ""  # filled from the data dir by ensure_dev_secret_key()
    elif len(secret_key) < 32:
        problems.append("MAILER_SECRET_KEY must be at least 32 characters long")

    webhook_secrets = tuple(s.strip() for s in (get("MAILER_WEBHOOK_SECRETS") or "").split(","))
    webhook_secrets = tuple(s for s in webhook_secrets if s)
    if any(len(s) < 16 for s in webhook_secrets):
        problems.append("each of MAILER_WEBHOOK_SECRETS must be at least 16 characters long")

    from_address = get("MAILER_FROM") or "Newsroom <newsroom@example.org>"
    if production and get("MAILER_FROM") is None:
        problems.append("MAILER_FROM is required in production")
    _check_from(from_address, production, problems)

    postal_address = get("MAILER_POSTAL_ADDRESS") or ""
    if production and not postal_address:
        problems.append("MAILER_POSTAL_ADDRESS is required in production (anti-spam law)")
    if "\r" in postal_address or "\x00" in postal_address:
        problems.append("MAILER_POSTAL_ADDRESS must not contain control characters")

    concurrency = _parse_number(
        get("MAILER_SMTP_CONCURRENCY"), "MAILER_SMTP_CONCURRENCY", 10, int, 1, 1000, problems
    )
    send_rate = _parse_number(
        get("MAILER_SEND_RATE"), "MAILER_SEND_RATE", 0.0, float, 0.0, 1_000_000.0, problems
    )

    from_domain = from_address.rpartition("@")[2].rstrip(">").strip().lower() or "localhost"

    retry_base = _parse_number(
        get("MAILER_RETRY_BASE_SECONDS"),
        "MAILER_RETRY_BASE_SECONDS",
        60.0,
        float,
        0.01,
        86400.0,
        problems,
    )
    retry_max_delay = _parse_number(
        get("MAILER_RETRY_MAX_DELAY_SECONDS"),
        "MAILER_RETRY_MAX_DELAY_SECONDS",
        3600.0,
        float,
        0.01,
        7 * 86400.0,
        problems,
    )
    retry_max_age = _parse_number(
        get("MAILER_RETRY_MAX_AGE_HOURS"),
        "MAILER_RETRY_MAX_AGE_HOURS",
        72.0,
        float,
        0.0001,
        720.0,
        problems,
    )
    lease = _parse_number(
        get("MAILER_LEASE_SECONDS"), "MAILER_LEASE_SECONDS", 120.0, float, 1.0, 3600.0, problems
    )
    claim_batch = _parse_number(
        get("MAILER_CLAIM_BATCH"), "MAILER_CLAIM_BATCH", 200, int, 1, 10_000, problems
    )
    workers = _parse_number(get("MAILER_WORKERS"), "MAILER_WORKERS", 1, int, 1, 64, problems)

    confirm_ttl_hours = _parse_number(
        get("MAILER_CONFIRM_TTL_HOURS"),
        "MAILER_CONFIRM_TTL_HOURS",
        168.0,
        float,
        0.01,
        8760.0,
        problems,
    )
    purge_days = _parse_number(
        get("MAILER_PENDING_PURGE_DAYS"), "MAILER_PENDING_PURGE_DAYS", 30, int, 1, 3650, problems
    )
    signup_rate = _parse_number(
        get("MAILER_SIGNUP_RATE_PER_IP"), "MAILER_SIGNUP_RATE_PER_IP", 10, int, 1, 100_000, problems
    )
    welcome_mail = _parse_bool(get("MAILER_WELCOME_MAIL"), "MAILER_WELCOME_MAIL", problems)
    trust_proxy = _parse_bool(get("MAILER_TRUST_PROXY"), "MAILER_TRUST_PROXY", problems)
    feed_allow_private = _parse_bool(
        get("MAILER_FEED_ALLOW_PRIVATE"), "MAILER_FEED_ALLOW_PRIVATE", problems
    )

    dkim_key_text = get("MAILER_DKIM_KEY_FILE")
    dkim_key_file = Path(dkim_key_text) if dkim_key_text else None
    dkim_selector = get("MAILER_DKIM_SELECTOR") or ""
    if dkim_key_file is not None:
        if not dkim_key_file.is_file():
            problems.append(f"MAILER_DKIM_KEY_FILE {dkim_key_file} does not exist")
        else:
            _check_dkim_key(dkim_key_file, problems)
        if not dkim_selector:
            problems.append("MAILER_DKIM_SELECTOR is required with MAILER_DKIM_KEY_FILE")

    cms_alerts = _parse_mode(
        get("MAILER_CMS_ALERTS"), "MAILER_CMS_ALERTS", NoticeMode.OFF, problems
    )
    cms_corrections = _parse_mode(
        get("MAILER_CMS_CORRECTIONS"), "MAILER_CMS_CORRECTIONS", NoticeMode.DRAFT, problems
    )
    if cms_corrections is NoticeMode.OFF:
        problems.append("MAILER_CMS_CORRECTIONS must be 'draft' or 'send'")
    alerts_per_hour = _parse_number(
        get("MAILER_CMS_ALERTS_PER_HOUR"), "MAILER_CMS_ALERTS_PER_HOUR", 5, int, 1, 1000, problems
    )
    demo_text = get("MAILER_DEMO")
    demo = not production if demo_text is None else _parse_bool(demo_text, "MAILER_DEMO", problems)
    if production and demo:
        problems.append("MAILER_DEMO is for development only: production never gets demo data")

    bounces, hooks = parse_bounce_settings(
        get,
        lambda name, default, kind, low, high: _parse_number(
            get(name), name, default, kind, low, high, problems
        ),
        lambda name: _parse_bool(get(name), name, problems),
        lambda value: _parse_listen(value, problems, "MAILER_BOUNCE_LISTEN"),
        problems,
    )

    log_level = (get("MAILER_LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        problems.append(
            f"MAILER_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {log_level!r}"
        )

    return Settings(
        env=run_env,
        database_url=database_url,
        smtp=smtp,
        listen_host=host,
        listen_port=port,
        base_url=base_url,
        secret_key=secret_key,
        webhook_secrets=webhook_secrets,
        from_address=from_address,
        postal_address=postal_address,
        data_dir=data_dir,
        smtp_concurrency=concurrency,
        send_rate=send_rate,
        log_level=log_level,
        organisation=get("MAILER_ORGANISATION") or "Newsroom",
        logo_url=get("MAILER_LOGO_URL") or "",
        bounce_domain=(get("MAILER_BOUNCE_DOMAIN") or from_domain).lower(),
        retry_base_seconds=retry_base,
        retry_max_delay_seconds=retry_max_delay,
        retry_max_age_seconds=retry_max_age * 3600.0,
        lease_seconds=lease,
        claim_batch=claim_batch,
        worker_processes=workers,
        confirm_ttl_seconds=confirm_ttl_hours * 3600.0,
        welcome_mail=welcome_mail,
        pending_purge_days=purge_days,
        trust_proxy=trust_proxy,
        feed_allow_private=feed_allow_private,
        signup_rate_per_ip=signup_rate,
        dkim_key_file=dkim_key_file,
        dkim_selector=dkim_selector,
        dkim_domain=(get("MAILER_DKIM_DOMAIN") or from_domain).lower(),
        cms_alerts=cms_alerts,
        cms_corrections=cms_corrections,
        cms_alerts_per_hour=alerts_per_hour,
        alert_subject_prefix=_prefix(get("MAILER_ALERT_SUBJECT_PREFIX"), "[Alert]", problems),
        correction_subject_prefix=_prefix(
            get("MAILER_CORRECTION_SUBJECT_PREFIX"), "[Correction]", problems
        ),
        bounces=bounces,
        hooks=hooks,
        demo=demo,
    )


def _split_url(url: str) -> SplitResult | None:
    """The URL's parts, or None when it cannot be read at all (e.g. an unclosed '[')."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def _check_database_url(url: str, problems: list[str]) -> None:
    parts = _split_url(url)
    if parts is None:
        problems.append(
            "MAILER_DATABASE_URL is not a valid URL: postgresql://user:pass@host:5432/db, "
            "with special characters in the password percent-encoded"
        )
        return
    if parts.scheme not in ("postgresql", "postgres"):
        problems.append("MAILER_DATABASE_URL must start with postgresql://")
        return
    try:
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        problems.append("MAILER_DATABASE_URL has an invalid port")
        return
    if not parts.hostname and "host=" not in parts.query:
        problems.append("MAILER_DATABASE_URL names no host")


def _check_dkim_key(path: Path, problems: list[str]) -> None:
    """A key dkimpy cannot read would fail every mail at send time: refuse it at start."""
    from dkim.crypto import UnparsableKeyError, parse_pem_private_key

    try:
        parse_pem_private_key(path.read_bytes())
    except OSError as exc:
        problems.append(f"MAILER_DKIM_KEY_FILE {path} cannot be read: {exc.strerror}")
    except (UnparsableKeyError, ValueError):
        problems.append(f"MAILER_DKIM_KEY_FILE {path} is not a PEM RSA private key")


def _parse_smtp_url(url: str, problems: list[str]) -> SmtpSettings | None:
    parts = _split_url(url)
    if parts is None:
        problems.append(
            "MAILER_SMTP_URL is not a valid URL: smtp://user:pass@host:port, "
            "with special characters in the password percent-encoded"
        )
        return None
    if parts.scheme not in ("smtp", "smtps"):
        problems.append("MAILER_SMTP_URL must start with smtp:// or smtps://")
        return None
    if not parts.hostname:
        problems.append("MAILER_SMTP_URL names no host")
        return None
    try:
        port = parts.port
    except ValueError:
        problems.append("MAILER_SMTP_URL has an invalid port")
        return None
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["false"])[-1].lower() in ("1", "true", "yes")
    if parts.scheme == "smtps":
        security = SmtpSecurity.TLS
    elif starttls:
        security = SmtpSecurity.STARTTLS
    else:
        security = SmtpSecurity.NONE
    default_port = {SmtpSecurity.TLS: 465, SmtpSecurity.STARTTLS: 587, SmtpSecurity.NONE: 25}
    return SmtpSettings(
        host=parts.hostname,
        port=port or default_port[security],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        security=security,
    )


def _parse_listen(value: str, problems: list[str], name: str = "MAILER_LISTEN") -> tuple[str, int]:
    host, sep, port_text = value.rpartition(":")
    port = whole_number(port_text, max_digits=5)
    if not sep or port is None or not 0 < port < 65536:
        problems.append(f"{name} must be host:port, e.g. 127.0.0.1:8080, not {value!r}")
        return "127.0.0.1", 8080
    return host.strip("[]") or "0.0.0.0", port  # noqa: S104


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


def _parse_number(
    text: str | None,
    name: str,
    default: N,
    kind: type[N],
    low: N,
    high: N,
    problems: list[str],
) -> N:
    if text is None:
        return default
    try:
        value = kind(text)
    except ValueError:
        problems.append(f"{name} must be a number, not {text!r}")
        return default
    if not low <= value <= high:
        problems.append(f"{name} must be between {low} and {high}")
        return default
    return value


def _parse_bool(text: str | None, name: str, problems: list[str]) -> bool:
    if text is None:
        return False
    value = text.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    problems.append(f"{name} must be true or false, not {text!r}")
    return False


def _parse_mode(
    text: str | None, name: str, default: NoticeMode, problems: list[str]
) -> NoticeMode:
    value = (text or default.value).lower()
    aliases = {"false": "off", "no": "off", "0": "off"}
    aliases |= {"true": "draft", "yes": "draft", "1": "draft"}
    try:
        return NoticeMode(aliases.get(value, value))
    except ValueError:
        problems.append(f"{name} must be off, draft (or true) or send, not {text!r}")
        return default


def _prefix(text: str | None, default: str, problems: list[str]) -> str:
    if text is not None and (len(text) > 40 or any(ord(c) < 32 for c in text)):
        problems.append(f"a subject prefix must be one line of at most 40 characters: {text!r}")
        return default
    return text if text is not None else default


def ensure_dev_secret_key(settings: Settings) -> Settings:
    """In development, use (or create once) a secret key kept in the data dir."""
    if settings.secret_key:
        return settings
    path = settings.data_dir / "secret_key"
    try:
        if path.is_file():
            key = path.read_text().strip()
        else:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            key = secrets.token_urlsafe(48)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(key + "\n")
    except OSError as exc:
        raise StartupError(data_dir_problem(settings.data_dir, exc)) from exc
    return replace(settings, secret_key=key)


def data_dir_problem(data_dir: Path, exc: OSError) -> str:
    """One sentence for a data dir that cannot be created, read or written."""
    return f"MAILER_DATA_DIR {data_dir} cannot be used: {(exc.strerror or str(exc)).lower()}"
