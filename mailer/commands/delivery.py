"""CLI for the delivery queue: `mailer deliveries retry --failed` (registered in cli.py)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from mailer.config import Settings
from mailer.delivery.retry import RETRYABLE_KINDS, retry_failed
from mailer.errors import InvalidInput
from mailer.runtime.database import open_database


def add_parser(subcommands: Any) -> None:
    """The subcommands of this module, added to the `mailer` parser."""

    cmd = subcommands.add_parser(
        "deliveries",
        help="the delivery queue: send failed transactional mail again",
        description="The per-recipient delivery queue.",
    )
    sub = cmd.add_subparsers(dest="action", metavar="ACTION", required=True)
    retry = sub.add_parser(
        "retry",
        help="queue failed confirmation, welcome and already-subscribed mails again",
        description="Queue failed transactional mails again, once their cause is fixed: "
        "only those whose subscriber may still get them (a confirmation while they still "
        "wait for that link; other mails while they are subscribed; never to a bounced, "
        "complained or suppressed address). Digests and alerts are not retried.",
    )
    retry.add_argument(
        "--failed", action="store_true", required=True, help="every failed delivery that matches"
    )
    retry.add_argument("--since", help="only those that failed at or after this ISO time")
    retry.add_argument("--kind", choices=RETRYABLE_KINDS, help="only this kind of mail")
    retry.add_argument(
        "--reason", help="only those whose last SMTP reply or error contains this text"
    )
    retry.add_argument(
        "--dry-run", action="store_true", help="count what would be queued; change nothing"
    )
    cmd.set_defaults(handler=deliveries_command)


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(
            f"--since {text!r} is not an ISO time (e.g. 2026-11-26 or 2026-11-26T09:00+01:00)"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def deliveries_command(settings: Settings, args: argparse.Namespace) -> int:
    since = _since(args.since)
    async with open_database(settings) as (pool, _):
        report = await retry_failed(
            pool,
            confirm_ttl_seconds=settings.confirm_ttl_seconds,
            since=since,
            kind=args.kind,
            reason=args.reason,
            dry_run=args.dry_run,
        )
    queued = sum(report.queued.values())
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(report.queued.items()))
    verb = "would be queued again" if args.dry_run else "queued again"
    matched = (
        "1 failed delivery matches"
        if report.matched == 1
        else f"{report.matched} failed deliveries match"
    )
    print(f"{matched}; {queued} {verb}{f' ({kinds})' if kinds else ''}")
    for why, n in sorted(report.skipped.items()):
        print(f"  {n} left failed: {why}")
    return 0
