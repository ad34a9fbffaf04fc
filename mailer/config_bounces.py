"""Settings of bounce and complaint intake, the suppression policy, and outbound webhooks
(read with the rest in config.py; kept here so config.py stays one screen of its own)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BounceSettings:
    # host:port of the SMTP receiver for DSNs and complaint reports (role bounces or all).
    listen_host: str = "127.0.0.1"
    listen_port: int = 2525
    # Soft bounces (of distinct mails) within soft_days that suppress an address.
    soft_limit: int = 3
    soft_days: int = 15
    # A sending mailing is paused once, after min_sample mails handed to SMTP, its bounce
    # rate or complaint rate (in percent) is above these.
    pause_bounce_percent: float = 5.0
    pause_complaint_percent: float = 0.3
    pause_min_sample: int = 200
    # Requests per client IP per minute on /webhooks/bounce* (429 past it).
    webhook_rate_per_minute: int = 600
    # Mailgun's webhook signing key; Postmark's webhook basic-auth credentials (user:password).
    mailgun_signing_key: str = field(default="", repr=False)
    postmark_auth: str = field(default="", repr=False)
    # Amazon SNS topics (ARNs) whose signed SES notifications are accepted; none: SES off.
    ses_topic_arns: tuple[str, ...] = ()
    # Reports (raw DSNs and the like) are kept this long, then deleted.
    report_retention_days: int = 90

    def redacted(self) -> str:
        providers = [
            name
            for name, secret in (
                ("mailgun", self.mailgun_signing_key),
                ("postmark", self.postmark_auth),
                ("ses", ",".join(self.ses_topic_arns)),
            )
            if secret
        ]
        return (
            f"smtp {self.listen_host}:{self.listen_port}, soft {self.soft_limit} in "
            f"{self.soft_days} days, pause at {self.pause_bounce_percent}% bounces / "
            f"{self.pause_complaint_percent}% complaints (min {self.pause_min_sample}), "
            f"providers: {', '.join(providers) or 'none'}"
        )


@dataclass(frozen=True)
class HookSettings:
    # Let outbound webhook URLs point at loopback or private addresses (development, tests).
    allow_private: bool = False
    # First retry delay of a failed event delivery; doubles per attempt, at most an hour.
    retry_base_seconds: float = 10.0
    # An event still failing after this long is given up (and can be re-sent by hand).
    max_age_seconds: float = 3 * 24 * 3600.0
    # Per request: connect plus answer.
    timeout_seconds: float = 10.0

    def redacted(self) -> str:
        private = "private addresses allowed" if self.allow_private else "public addresses only"
        return (
            f"{private}, retry from {self.retry_base_seconds}s for "
            f"{self.max_age_seconds / 3600:g}h, timeout {self.timeout_seconds}s"
        )


Getter = Callable[[str], "str | None"]


def parse_bounce_settings(
    get: Getter,
    number: Callable[[str, float, type, float, float], float],
    flag: Callable[[str], bool],
    listen: Callable[[str], tuple[str, int]],
    problems: list[str],
) -> tuple[BounceSettings, HookSettings]:
    """Both groups from MAILER_* variables; each bad value adds one line to `problems`."""
    host, port = listen(get("MAILER_BOUNCE_LISTEN") or "127.0.0.1:2525")
    postmark = get("MAILER_POSTMARK_WEBHOOK_AUTH") or ""
    if postmark and ":" not in postmark:
        problems.append("MAILER_POSTMARK_WEBHOOK_AUTH must be user:password")
    mailgun = get("MAILER_MAILGUN_SIGNING_KEY") or ""
    if mailgun and len(mailgun) < 16:
        problems.append("MAILER_MAILGUN_SIGNING_KEY looks too short (at least 16 characters)")
    topics = tuple(t.strip() for t in (get("MAILER_SES_TOPIC_ARNS") or "").split(",") if t.strip())
    if any(not t.startswith("arn:aws") or len(t) > 256 for t in topics):
        problems.append(
            "MAILER_SES_TOPIC_ARNS must be SNS topic ARNs (arn:aws:sns:...), comma-separated"
        )
    bounces = BounceSettings(
        listen_host=host,
        listen_port=port,
        soft_limit=int(number("MAILER_SOFT_BOUNCE_LIMIT", 3, int, 1, 100)),
        soft_days=int(number("MAILER_SOFT_BOUNCE_DAYS", 15, int, 1, 365)),
        pause_bounce_percent=number("MAILER_PAUSE_BOUNCE_PERCENT", 5.0, float, 0.0, 100.0),
        pause_complaint_percent=number("MAILER_PAUSE_COMPLAINT_PERCENT", 0.3, float, 0.0, 100.0),
        pause_min_sample=int(number("MAILER_PAUSE_MIN_SAMPLE", 200, int, 1, 10_000_000)),
        webhook_rate_per_minute=int(number("MAILER_BOUNCE_WEBHOOK_RATE", 600, int, 1, 1_000_000)),
        mailgun_signing_key=mailgun,
        postmark_auth=postmark,
        ses_topic_arns=topics,
        report_retention_days=int(number("MAILER_BOUNCE_REPORT_DAYS", 90, int, 1, 3650)),
    )
    hooks = HookSettings(
        allow_private=flag("MAILER_HOOKS_ALLOW_PRIVATE"),
        retry_base_seconds=number("MAILER_HOOKS_RETRY_BASE_SECONDS", 10.0, float, 0.01, 3600.0),
        max_age_seconds=number("MAILER_HOOKS_MAX_AGE_HOURS", 72.0, float, 0.001, 720.0) * 3600,
        timeout_seconds=number("MAILER_HOOKS_TIMEOUT_SECONDS", 10.0, float, 0.1, 120.0),
    )
    return bounces, hooks
