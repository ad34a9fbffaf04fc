"""CLI for suppressions, bounce reports, deliverability and outbound webhooks:
`mailer suppressions|bounces|hooks ...` (registered in cli.py)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from mailer.config import Settings
from mailer.errors import InvalidInput
from mailer.feedback import reports, suppressions
from mailer.feedback.deliverability import overview
from mailer.runtime.database import open_database


def add_parsers(subcommands: Any) -> None:
    """The subcommands of this module, added to the `mailer` parser."""
    sup = subcommands.add_parser(
        "suppressions",
        help="list, add or lift suppressed addresses",
        description="Addresses never mailed: bounced, complained, erased or added by hand.",
    )
    sup_sub = sup.add_subparsers(dest="action", metavar="ACTION", required=True)
    sup_list = sup_sub.add_parser("list", help="list suppressions, newest first")
    sup_list.add_argument("--reason", help="hard_bounce, soft_bounce, complaint, erased, manual")
    sup_list.add_argument("--limit", type=int, default=50)
    sup_add = sup_sub.add_parser("add", help="suppress an address by hand")
    sup_add.add_argument("email")
    sup_add.add_argument("--detail", default="", help="why, for the next editor")
    sup_lift = sup_sub.add_parser("lift", help="lift an address's suppression")
    sup_lift.add_argument("email")
    sup.set_defaults(handler=suppressions_command)

    bounces_cmd = subcommands.add_parser(
        "bounces",
        help="received bounce and complaint reports, and rates",
        description="Bounce and complaint reports (DSN, ARF, provider webhooks) and rates.",
    )
    b_sub = bounces_cmd.add_subparsers(dest="action", metavar="ACTION", required=True)
    reports = b_sub.add_parser("reports", help="list received reports, newest first")
    reports.add_argument("--status", help="processed, ignored, unmatched, unparseable, refused")
    reports.add_argument("--limit", type=int, default=50)
    show = b_sub.add_parser("show", help="print one report with its raw message")
    show.add_argument("report_id", type=int)
    rates = b_sub.add_parser("rates", help="bounce and complaint rates (JSON)")
    rates.add_argument("--days", type=int, default=30)
    bounces_cmd.set_defaults(handler=bounces_command)

    hooks_cmd = subcommands.add_parser(
        "hooks",
        help="outbound webhook endpoints: add, list, remove, deliveries, resend",
        description="Endpoints that receive mailer's events, signed with Mailer-Signature.",
    )
    h_sub = hooks_cmd.add_subparsers(dest="action", metavar="ACTION", required=True)
    h_add = h_sub.add_parser("add", help="register an endpoint (prints its secret once)")
    h_add.add_argument("url")
    h_add.add_argument(
        "--events",
        required=True,
        help="comma-separated event types: subscriber.confirmed, digest.*, * ...",
    )
    h_add.add_argument("--secret", help="the signing secret (default: generated)")
    h_add.add_argument("--description", default="")
    h_sub.add_parser("list", help="list endpoints with their delivery counts")
    for action, text in (
        ("remove", "remove an endpoint and its log"),
        ("pause", "stop delivering to an endpoint (events keep being logged)"),
        ("resume", "deliver to a paused endpoint again"),
    ):
        h_sub.add_parser(action, help=text).add_argument("endpoint_id", type=int)
    h_log = h_sub.add_parser("deliveries", help="the delivery log of an endpoint")
    h_log.add_argument("endpoint_id", type=int)
    h_log.add_argument("--status", help="pending, delivered or failed")
    h_log.add_argument("--limit", type=int, default=50)
    h_resend = h_sub.add_parser("resend", help="send a logged event again (or every failed one)")
    h_resend.add_argument("endpoint_id", type=int)
    h_resend.add_argument("delivery_id", type=int, nargs="?", help="a delivery of the log")
    h_resend.add_argument("--failed", action="store_true", help="every given-up delivery")
    hooks_cmd.set_defaults(handler=hooks_command)


async def suppressions_command(settings: Settings, args: argparse.Namespace) -> int:
    async with open_database(settings) as (pool, _):
        if args.action == "list":
            found, _ = await suppressions.list_suppressions(
                pool, reason=args.reason, limit=max(1, min(args.limit, 1000))
            )
            for s in found:
                who = s["email"] or f"(hash {s['email_hash'][:16]}...)"
                print(f"{s['created_at'][:19]}  {s['reason']:<12} {who:<40} {s['detail'] or ''}")
        elif args.action == "add":
            await suppressions.add(pool, args.email, detail=args.detail, by="cli")
            print(f"{args.email} suppressed")
        else:
            lifted = await suppressions.lift(pool, args.email, by="cli")
            status = lifted["subscriber_status"]
            after = f"; the subscriber is now {status}" if status else ""
            print(f"suppression of {args.email} ({lifted['reason']}) lifted{after}")
    return 0


async def bounces_command(settings: Settings, args: argparse.Namespace) -> int:
    async with open_database(settings) as (pool, _):
        if args.action == "reports":
            for r in await reports.list_reports(pool, status=args.status, limit=args.limit):
                about = f"delivery {r['delivery_id']}" if r["delivery_id"] else r["envelope_to"]
                print(
                    f"{r['report_id']:>6}  {r['received_at']:%Y-%m-%d %H:%M}  {r['source']:<17} "
                    f"{r['kind']:<7} {r['status']:<11} {about or '':<30} {r['problem'] or ''}"
                )
        elif args.action == "show":
            data = await reports.get_report(pool, args.report_id)
            raw = data.pop("raw")
            print(json.dumps(data, indent=2, default=str))
            print(raw)
        else:
            print(json.dumps(await overview(pool, settings.bounces, args.days), indent=2))
    return 0


async def hooks_command(settings: Settings, args: argparse.Namespace) -> int:
    # Here, not at the top: it brings the HTTP client, a fifth of every command's start-up.
    from mailer.feedback import hooks

    async with open_database(settings) as (pool, _):
        if args.action == "add":
            created = await hooks.create_endpoint(
                pool,
                settings,
                url=args.url,
                event_types=args.events.split(","),
                secret=args.secret,
                description=args.description,
            )
            print(f"webhook endpoint {created['endpoint_id']}: {created['url']}")
            print(f"events: {', '.join(created['event_types'])}")
            print(f"signing secret (shown once): {created['secret']}")
        elif args.action == "list":
            for e in await hooks.list_endpoints(pool):
                state = "active" if e["active"] else "paused"
                if e["failures"]:
                    state += f", failing ({e['failures']} rounds)"
                print(
                    f"{e['endpoint_id']:>4}  {e['url']:<45} {','.join(e['event_types']):<30} "
                    f"{state}; {e['delivered']} delivered, {e['pending']} pending, "
                    f"{e['failed']} failed"
                )
        elif args.action in ("pause", "resume"):
            await hooks.update_endpoint(
                pool, settings, args.endpoint_id, active=args.action == "resume"
            )
            print(f"webhook endpoint {args.endpoint_id} {args.action}d")
        elif args.action == "remove":
            await hooks.delete_endpoint(pool, args.endpoint_id)
            print(f"webhook endpoint {args.endpoint_id} removed")
        elif args.action == "deliveries":
            for d in await hooks.list_deliveries(
                pool, args.endpoint_id, status=args.status, limit=args.limit
            ):
                last = d["last_error"] or (f"HTTP {d['last_status']}" if d["last_status"] else "")
                then = "" if d["status"] != "pending" else f" next {d['next_attempt_at'][:19]}"
                print(
                    f"{d['hook_delivery_id']:>7}  event {d['event_id']:<7} {d['type']:<24} "
                    f"{d['status']:<9} {d['attempts']} attempts{then}  {last}"
                )
        else:
            if args.delivery_id is None and not args.failed:
                raise InvalidInput("name a delivery id, or --failed for every failed one")
            queued = await hooks.resend(
                pool, settings, args.endpoint_id, args.delivery_id, all_failed=args.failed
            )
            print(f"{len(queued)} deliveries queued again")
    return 0
