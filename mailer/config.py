"""Settings read once from MAILER_* environment variables (and an optional .env file).

Each setting is declared once, on its field below: variable, default, bounds and help
(mailer/settings_fields.py reads and documents them; mailer/config_values.py holds the checks
of single values and of values together)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

from mailer import config_values as values
from mailer.config_bounces import BounceSettings, HookSettings
from mailer.config_clicks import ClickSettings
from mailer.config_values import Env, NoticeMode, Pooler, SmtpSettings, redact_url
from mailer.config_values import SmtpSecurity as SmtpSecurity  # imported from here
from mailer.errors import ConfigError, StartupError
from mailer.settings_fields import (
    SettingDoc,
    declared_settings,
    document,
    group,
    parse_listen,
    part_of,
    read,
    read_dotenv,
    setting,
    unknown_variables,
)

# The development-only route of the bundled demo feed (mailer/web/start.py).
DEMO_FEED_PATH = "/demo/feed.xml"


@dataclass(frozen=True)
class Settings:
    env: Env = setting(  # noqa: RUF009 -- a field specifier, like field()
        "MAILER_ENV",
        Env.DEVELOPMENT,
        help="`development` allows the embedded defaults; `production` requires every external "
        "part and logs JSON lines (`time`, `level`, `logger`, `message`, `pid`, and `exception` "
        "with its traceback)",
    )
    database_url: str | None = setting(
        "MAILER_DATABASE_URL",
        None,
        shown="embedded (development)",
        parse=values.database_url,
        secret=True,
        help="`postgresql://user:pass@host:5432/db`; without it, development starts an embedded "
        "PostgreSQL (the `pgserver` package) in the data dir",
    )
    database_pool_size: int = setting(
        "MAILER_DATABASE_POOL_SIZE",
        10,
        low=1,
        high=1000,
        help="connections each mailer process keeps open to the database (or the pooler); "
        "count it times processes (`serve` and its worker processes, CLI runs) against "
        "the server's `max_connections`",
    )
    database_pooler: Pooler = setting(  # noqa: RUF009 -- a field specifier, like field()
        "MAILER_DATABASE_POOLER",
        Pooler.DETECT,
        help="`transaction` when MAILER_DATABASE_URL goes through a pooler in transaction mode "
        "(PgBouncer, RDS Proxy, Supabase, Neon): no prepared-statement cache, no LISTEN on "
        "it; `none` for a direct connection or session pooling; `detect` finds out at start "
        "(reliable only while the pooler is idle: set it in production)",
    )
    database_listen_url: str | None = setting(
        "MAILER_DATABASE_LISTEN_URL",
        None,
        shown="MAILER_DATABASE_URL without a pooler, else none (polling)",
        parse=values.database_url,
        secret=True,
        help="a direct connection (not through a transaction pooler) on which the delivery "
        "worker LISTENs for new mail; without one behind a pooler it polls every second",
    )
    smtp: SmtpSettings | None = setting(  # noqa: RUF009 -- a field specifier, like field()
        "MAILER_SMTP_URL",
        None,
        shown="development sink",
        parse=values.smtp_url,
        help="`smtp://user:pass@host:port`, `smtp://...?starttls=true` for STARTTLS, "
        "`smtps://...` for implicit TLS; without it, development runs an in-process SMTP "
        "server whose mails are shown at `/dev/outbox`",
    )
    listen_host: str = setting(
        "MAILER_LISTEN", "127.0.0.1", parse=parse_listen, help="address the web server binds to"
    )
    listen_port: int = part_of("MAILER_LISTEN", 8080)
    base_url: str = setting(  # without MAILER_BASE_URL: made from the listen address
        "MAILER_BASE_URL",
        "http://127.0.0.1:8080",
        shown="`http://<listen address>`",
        help="public URL of every link in mails and pages; must be https in production",
    )
    secret_key: str = setting(
        "MAILER_SECRET_KEY",
        "",  # in development: filled from the data dir by ensure_dev_secret_key()
        shown="generated (development)",
        parse=values.secret_key,
        secret=True,
        help="signs links and tokens, 32+ characters; in development generated once into "
        "`<data dir>/secret_key`; required in production unless `MAILER_SECRET_KEYS` is set",
    )
    secret_keys: tuple[str, ...] = setting(
        "MAILER_SECRET_KEYS",
        (),
        parse=values.secret_key_list,
        secret=True,
        help="comma-separated secret keys for a rotation, 32+ characters each: the first signs, "
        "every one (and `MAILER_SECRET_KEY`, if also set) verifies; put the new key first and "
        "keep the old one listed while mail signed with it may be used (30 days or more)",
    )
    webhook_secrets: tuple[str, ...] = setting(
        "MAILER_WEBHOOK_SECRETS",
        (),
        parse=values.secret_list,
        secret=True,
        help="comma-separated secrets accepted on signed webhooks; list the new one beside the "
        "old one to rotate",
    )
    header_timeout: float = setting(
        "MAILER_HEADER_TIMEOUT",
        10.0,
        low=1.0,
        high=300.0,
        help="seconds a client has to send a request's headers (from its first byte, or from "
        "opening the connection); a slower one is disconnected",
    )
    body_timeout: float = setting(
        "MAILER_BODY_TIMEOUT",
        300.0,
        low=1.0,
        high=3600.0,
        help="seconds a client has to send a request's body once its headers are in (a "
        "subscriber import upload too; bigger files over slow links: `mailer subscribers "
        "import`)",
    )
    connections_per_ip: int = setting(
        "MAILER_CONNECTIONS_PER_IP",
        100,
        low=0,
        high=100_000,
        help="connections one client address may hold open at once; more are closed at once; "
        "`0` for no cap (it is off when `MAILER_TRUST_PROXY` is on: then every connection "
        "comes from the proxy, which should cap them)",
    )
    from_address: str = setting(
        "MAILER_FROM",
        "Newsroom <newsroom@example.org>",
        help="the From of every mail (`Name <address>` or a bare address); required in production",
    )
    reply_to: str = setting(
        "MAILER_REPLY_TO",
        "",
        shown="none",
        parse=values.reply_to,
        help="the Reply-To of every mail (`Name <address>` or a bare address); without it, "
        "replies go to From",
    )
    postal_address: str = setting(
        "MAILER_POSTAL_ADDRESS",
        "",
        shown="empty",
        parse=values.postal_address,
        help="the sender's postal address printed in every mail footer (anti-spam law); "
        "required in production",
    )
    data_dir: Path = setting(  # noqa: RUF009 -- a field specifier, like field()
        "MAILER_DATA_DIR",
        Path(".mailer"),
        help="embedded database, outbox, generated secret key, template overrides",
    )
    smtp_concurrency: int = setting(
        "MAILER_SMTP_CONCURRENCY",
        10,
        low=1,
        high=1000,
        help="SMTP transactions in flight at once per worker process",
    )
    send_rate: float = setting(
        "MAILER_SEND_RATE",
        0.0,
        low=0.0,
        high=1_000_000.0,
        shown="`0` (unlimited)",
        help="global send rate limit, messages per second",
    )
    throttle_gmail: str = setting(
        "MAILER_THROTTLE_GMAIL",
        "0",
        shown="`0` (unlimited)",
        parse=values.throttle_limit,
        help="mail to gmail.com and googlemail.com: "
        "`MESSAGES_PER_MINUTE/CONNECTIONS` per worker process, e.g. `3000/20`; "
        "`0` for no limit (a 421 or 4.7.x deferral pauses the group all the same)",
    )
    throttle_yahoo: str = setting(
        "MAILER_THROTTLE_YAHOO",
        "0",
        shown="`0` (unlimited)",
        parse=values.throttle_limit,
        help="mail to Yahoo and AOL domains: "
        "`MESSAGES_PER_MINUTE/CONNECTIONS` per worker process, e.g. `1500/10`; "
        "`0` for no limit (a 421 or 4.7.x deferral pauses the group all the same)",
    )
    throttle_microsoft: str = setting(
        "MAILER_THROTTLE_MICROSOFT",
        "0",
        shown="`0` (unlimited)",
        parse=values.throttle_limit,
        help="mail to outlook, hotmail, live and msn domains: "
        "`MESSAGES_PER_MINUTE/CONNECTIONS` per worker process, e.g. `3000/10`; "
        "`0` for no limit (a 421 or 4.7.x deferral pauses the group all the same)",
    )
    throttle_other: str = setting(
        "MAILER_THROTTLE_OTHER",
        "0",
        shown="`0` (unlimited)",
        parse=values.throttle_limit,
        help="mail to each other receiving domain, on its own: "
        "`MESSAGES_PER_MINUTE/CONNECTIONS` per worker process, e.g. `600/5`; "
        "`0` for no limit (a 421 or 4.7.x deferral pauses the group all the same)",
    )
    dns_resolver: str = setting(
        "MAILER_DNS_RESOLVER",
        "",
        shown="the system's",
        help="the DNS server `mailer doctor` asks (`HOST` or `HOST:PORT`); empty: the system's",
    )
    log_level: str = setting(
        "MAILER_LOG_LEVEL",
        "INFO",
        parse=values.log_level,
        help="`DEBUG`, `INFO`, `WARNING` or `ERROR`",
    )
    organisation: str = setting(
        "MAILER_ORGANISATION", "Newsroom", help="the organisation's name in mails and pages"
    )
    logo_url: str = setting("MAILER_LOGO_URL", "", help="a logo shown in the pages' header")
    bounce_domain: str = setting(  # without MAILER_BOUNCE_DOMAIN: From's
        "MAILER_BOUNCE_DOMAIN",
        "example.org",
        shown="From's domain",
        parse=values.domain,
        help="domain of the per-delivery envelope sender `bounces+<id>-<sig>@domain`",
    )
    retry_base_seconds: float = setting(
        "MAILER_RETRY_BASE_SECONDS",
        60.0,
        low=0.01,
        high=86400.0,
        help="first retry delay after a temporary failure; doubles per attempt, ±20 % jitter",
    )
    retry_max_delay_seconds: float = setting(
        "MAILER_RETRY_MAX_DELAY_SECONDS",
        3600.0,
        low=0.01,
        high=7 * 86400.0,
        help="the longest delay between two attempts",
    )
    retry_max_age_seconds: float = setting(
        "MAILER_RETRY_MAX_AGE_HOURS",
        72.0,
        low=0.0001,
        high=720.0,
        scale=3600.0,
        help="a delivery still failing temporarily after this long fails for good",
    )
    lease_seconds: float = setting(
        "MAILER_LEASE_SECONDS",
        120.0,
        low=1.0,
        high=3600.0,
        help="how long claimed deliveries stay a worker's before others may take them back",
    )
    claim_batch: int = setting(
        "MAILER_CLAIM_BATCH",
        200,
        low=1,
        high=10_000,
        help="deliveries a worker claims per round trip (it holds at most twice that)",
    )
    worker_processes: int = setting(
        "MAILER_WORKERS",
        1,
        low=1,
        high=64,
        help="delivery worker processes one `mailer serve` runs (role `all` or `worker`); extra "
        "ones are child processes, restarted if they die (after 1 s, doubling to a minute "
        "while they keep dying within a minute)",
    )
    confirm_ttl_seconds: float = setting(
        "MAILER_CONFIRM_TTL_HOURS",
        168.0,
        low=0.01,
        high=8760.0,
        scale=3600.0,
        help="how long a confirmation link works",
    )
    welcome_mail: bool = setting(
        "MAILER_WELCOME_MAIL",
        False,
        help="also mail a welcome message after confirmation (the welcome page is always shown)",
    )
    pending_purge_days: int = setting(
        "MAILER_PENDING_PURGE_DAYS",
        30,
        low=1,
        high=3650,
        help="unconfirmed signups are deleted after this many days (their consent entries stay)",
    )
    retain_deliveries_days: int = setting(
        "MAILER_RETAIN_DELIVERIES_DAYS",
        180,
        low=7,
        high=36500,
        help="days a finished mailing's per-recipient delivery rows are kept (and transactional "
        "mail's); who was sent which item stays in a compact ledger, so no item is sent twice "
        "and corrections still reach everyone who got it",
    )
    retain_events_days: int = setting(
        "MAILER_RETAIN_EVENTS_DAYS",
        365,
        low=7,
        high=36500,
        help="days events (the audit log webhooks are made from) are kept; one a webhook has "
        "still to deliver stays",
    )
    trust_proxy: bool = setting(
        "MAILER_TRUST_PROXY",
        False,
        help="take the client IP from `X-Forwarded-For` (only behind your own reverse proxy)",
    )
    signup_rate_per_ip: int = setting(
        "MAILER_SIGNUP_RATE_PER_IP",
        10,
        low=1,
        high=100_000,
        help="hosted-form signups per client IP per minute (the signed webhook: 20 times this); "
        "5 per address per hour on both",
    )
    feed_allow_private: bool = setting(
        "MAILER_FEED_ALLOW_PRIVATE",
        False,
        help="let feed sources point at loopback or private addresses (development, tests)",
    )
    dkim_key_file: Path | None = setting(  # noqa: RUF009 -- a field specifier, like field()
        "MAILER_DKIM_KEY_FILE",
        None,
        shown="off",
        parse=values.path,
        help="DKIM-sign every mail (rsa-sha256, dkimpy) with this PEM key; a file that is not a "
        "readable PEM RSA private key is a configuration error",
    )
    dkim_selector: str = setting(
        "MAILER_DKIM_SELECTOR",
        "",
        help="the DKIM selector (`<selector>._domainkey.<domain>`); required with "
        "`MAILER_DKIM_KEY_FILE`",
    )
    dkim_domain: str = setting(  # without MAILER_DKIM_DOMAIN: From's
        "MAILER_DKIM_DOMAIN",
        "",
        shown="From's domain",
        parse=values.domain,
        help="the DKIM signing domain (`d=`)",
    )
    cms_alerts: NoticeMode = setting(  # noqa: RUF009 -- a field specifier, like field()
        "MAILER_CMS_ALERTS",
        NoticeMode.OFF,
        parse=values.notice_mode,
        help="the CMS's `urgent` flag: `off` refuses it (403), `draft` (or `true`) makes an alert "
        "that waits for an editor's confirmation, `send` sends it at once",
    )
    cms_corrections: NoticeMode = setting(  # noqa: RUF009 -- a field specifier, like field()
        "MAILER_CMS_CORRECTIONS",
        NoticeMode.DRAFT,
        parse=values.notice_mode,
        help="the CMS's `correction` note: the notice waits for an editor (`draft`) or is sent "
        "at once (`send`); the correction itself is always recorded",
    )
    cms_alerts_per_hour: int = setting(
        "MAILER_CMS_ALERTS_PER_HOUR",
        5,
        low=1,
        high=1000,
        help="alerts the CMS may create per hour; more are answered 429 with `Retry-After` and "
        "nothing is stored",
    )
    alert_subject_prefix: str = setting(
        "MAILER_ALERT_SUBJECT_PREFIX",
        "[Alert]",
        parse=values.subject_prefix,
        help="the subject prefix of alerts",
    )
    correction_subject_prefix: str = setting(
        "MAILER_CORRECTION_SUBJECT_PREFIX",
        "[Correction]",
        parse=values.subject_prefix,
        help="the subject prefix of correction notices",
    )
    bounces: BounceSettings = group(BounceSettings)  # noqa: RUF009
    hooks: HookSettings = group(HookSettings)  # noqa: RUF009
    clicks: ClickSettings = group(ClickSettings)  # noqa: RUF009
    demo: bool = setting(  # without MAILER_DEMO: not in production
        "MAILER_DEMO",
        True,
        shown="`true` in development, `false` in production",
        help="seed demo data (topics, the demo feed, a series, an admin) on the first start with "
        "an empty database (development only: `true` in production is refused)",
    )
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

    @property
    def signing_keys(self) -> tuple[str, ...]:
        """The secret keys, the signing one first: MAILER_SECRET_KEYS in order, then
        MAILER_SECRET_KEY (which signs only when MAILER_SECRET_KEYS is not set)."""
        keys = (*self.secret_keys, self.secret_key) if self.secret_key else self.secret_keys
        return tuple(dict.fromkeys(keys))

    def redacted(self) -> dict[str, str]:
        """Effective settings for display, with every secret masked."""
        shown = {f.name: str(getattr(self, f.name)) for f in fields(self)}
        return shown | {
            "database_url": redact_url(self.database_url)
            if self.database_url
            else "(embedded PostgreSQL)",
            "database_listen_url": redact_url(self.database_listen_url)
            if self.database_listen_url
            else "(none)",
            "smtp": self.smtp.redacted() if self.smtp else "(development SMTP sink)",
            "secret_key": "***" if self.secret_key else "(unset)",
            "secret_keys": f"{len(self.secret_keys)} configured" if self.secret_keys else "(none)",
            "webhook_secrets": f"{len(self.webhook_secrets)} configured"
            if self.webhook_secrets
            else "(none)",
            "dkim_key_file": str(self.dkim_key_file) if self.dkim_key_file else "(DKIM off)",
            "bounces": self.bounces.redacted(),
            "hooks": self.hooks.redacted(),
            "clicks": self.clicks.redacted(),
            "ignored": "; ".join(self.ignored) if self.ignored else "(none)",
        }


def load_settings(environ: Mapping[str, str] | None = None, *, dotenv: bool = True) -> Settings:
    """Read and validate settings; raises ConfigError listing every problem at once."""
    env = dict(os.environ if environ is None else environ)
    problems: list[str] = []
    if dotenv:
        named = env.get("MAILER_DOTENV")
        env = {**read_dotenv(Path(named or ".env"), problems, named=bool(named)), **env}
    declared = {s.env for s, _ in declared_settings(Settings)}

    def get(name: str) -> str | None:
        assert name in declared, f"{name} is read but not declared"
        return env.get(name, "").strip() or None

    settings = values.check_together(read(Settings, get, problems), get, problems)
    if problems:
        raise ConfigError(problems)
    return replace(settings, ignored=unknown_variables(env, declared))


def settings_reference() -> list[SettingDoc]:
    """Every MAILER_* setting with its default and help, in declaration order."""
    return document(Settings)


def render_reference_markdown() -> str:
    """The configuration table of the docs (`python -m mailer.config` prints it)."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{d.env}` | {d.default_markdown} | {d.help} |" for d in settings_reference()]
    return "\n".join(rows) + "\n"


def ensure_dev_secret_key(settings: Settings) -> Settings:
    """In development, use (or create once) a secret key kept in the data dir."""
    if settings.secret_key or settings.secret_keys:
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


if __name__ == "__main__":
    print(render_reference_markdown(), end="")
