"""Settings of bounce and complaint intake, the suppression policy, and outbound webhooks
(read with the rest in config.py; kept here so config.py stays one screen of its own)."""

from __future__ import annotations

from dataclasses import dataclass

from mailer.settings_fields import Setting, parse_listen, part_of, setting


def _postmark_auth(text: str, s: Setting, problems: list[str]) -> str:
    if ":" not in text:
        problems.append(f"{s.env} must be user:password")
    return text


def _mailgun_key(text: str, s: Setting, problems: list[str]) -> str:
    if len(text) < 16:
        problems.append(f"{s.env} looks too short (at least 16 characters)")
    return text


def _sns_topics(text: str, s: Setting, problems: list[str]) -> tuple[str, ...]:
    topics = tuple(t.strip() for t in text.split(",") if t.strip())
    if any(not t.startswith("arn:aws") or len(t) > 256 for t in topics):
        problems.append(f"{s.env} must be SNS topic ARNs (arn:aws:sns:...), comma-separated")
    return topics


@dataclass(frozen=True)
class BounceSettings:
    listen_host: str = setting(
        "MAILER_BOUNCE_LISTEN",
        "127.0.0.1",
        parse=parse_listen,
        help="where the SMTP receiver for DSNs and complaint reports listens (roles `bounces` "
        "and `all`); in production point the bounce domain's MX at it (e.g. `0.0.0.0:25`, or "
        "behind your MTA)",
    )
    listen_port: int = part_of("MAILER_BOUNCE_LISTEN", 2525)
    soft_limit: int = setting(
        "MAILER_SOFT_BOUNCE_LIMIT",
        3,
        low=1,
        high=100,
        help="soft bounces (of distinct mails) within `MAILER_SOFT_BOUNCE_DAYS` that suppress "
        "an address",
    )
    soft_days: int = setting(
        "MAILER_SOFT_BOUNCE_DAYS",
        15,
        low=1,
        high=365,
        help="the window, in days, in which `MAILER_SOFT_BOUNCE_LIMIT` soft bounces suppress "
        "an address",
    )
    pause_bounce_percent: float = setting(
        "MAILER_PAUSE_BOUNCE_PERCENT",
        5.0,
        low=0.0,
        high=100.0,
        help="a sending mailing whose bounce rate is above this (once `MAILER_PAUSE_MIN_SAMPLE` "
        "mails have an outcome) is paused automatically",
    )
    pause_complaint_percent: float = setting(
        "MAILER_PAUSE_COMPLAINT_PERCENT",
        0.3,
        low=0.0,
        high=100.0,
        help="a sending mailing whose complaint rate is above this (once "
        "`MAILER_PAUSE_MIN_SAMPLE` mails have an outcome) is paused automatically",
    )
    pause_min_sample: int = setting(
        "MAILER_PAUSE_MIN_SAMPLE",
        200,
        low=1,
        high=10_000_000,
        help="mails of a mailing that must have an outcome before its rates can pause it",
    )
    webhook_rate_per_minute: int = setting(
        "MAILER_BOUNCE_WEBHOOK_RATE",
        600,
        low=1,
        high=1_000_000,
        help="requests per client IP per minute on `/webhooks/bounce*` (429 past it)",
    )
    mailgun_signing_key: str = setting(
        "MAILER_MAILGUN_SIGNING_KEY",
        "",
        parse=_mailgun_key,
        secret=True,
        help="Mailgun's webhook signing key (enables `/webhooks/bounce/mailgun`)",
    )
    postmark_auth: str = setting(
        "MAILER_POSTMARK_WEBHOOK_AUTH",
        "",
        parse=_postmark_auth,
        secret=True,
        help="`user:password` Postmark's webhook sends as basic auth (enables "
        "`/webhooks/bounce/postmark`)",
    )
    ses_topic_arns: tuple[str, ...] = setting(
        "MAILER_SES_TOPIC_ARNS",
        (),
        parse=_sns_topics,
        shown="empty (off)",
        help="comma-separated Amazon SNS topic ARNs whose signed SES notifications are accepted "
        "at `/webhooks/bounce/ses` (none: the endpoint is off)",
    )
    report_retention_days: int = setting(
        "MAILER_BOUNCE_REPORT_DAYS",
        90,
        low=1,
        high=3650,
        help="received reports (raw DSNs and the like) are kept this many days",
    )

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
    allow_private: bool = setting(
        "MAILER_HOOKS_ALLOW_PRIVATE",
        False,
        help="let outbound webhook URLs point at loopback or private addresses (development, "
        "tests)",
    )
    retry_base_seconds: float = setting(
        "MAILER_HOOKS_RETRY_BASE_SECONDS",
        10.0,
        low=0.01,
        high=3600.0,
        help="outbound webhooks: first retry delay of a failed event (doubling, at most an hour)",
    )
    max_age_seconds: float = setting(
        "MAILER_HOOKS_MAX_AGE_HOURS",
        72.0,
        low=0.001,
        high=720.0,
        scale=3600.0,
        help="outbound webhooks: how long a failing event is retried (then it can be re-sent "
        "by hand)",
    )
    timeout_seconds: float = setting(
        "MAILER_HOOKS_TIMEOUT_SECONDS",
        10.0,
        low=0.1,
        high=120.0,
        help="outbound webhooks: per-request timeout, connect plus answer",
    )

    def redacted(self) -> str:
        private = "private addresses allowed" if self.allow_private else "public addresses only"
        return (
            f"{private}, retry from {self.retry_base_seconds}s for "
            f"{self.max_age_seconds / 3600:g}h, timeout {self.timeout_seconds}s"
        )
