"""The `mailer alerts`, `mailer items` and `mailer corrections` commands (registered in
cli.py): send an item as an alert, correct or retract a sent item, audit an item."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Awaitable, Callable

import asyncpg

from mailer.config import Settings
from mailer.delivery import mailings
from mailer.editorial import alerts, corrections
from mailer.editorial.item_audit import audit, format_audit
from mailer.editorial.notices import AudienceChanged
from mailer.errors import Conflict
from mailer.numbers import counted, people
from mailer.runtime.database import open_database


def add_parsers(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    alerts_cmd = subcommands.add_parser(
        "alerts",
        help="send an item as an urgent alert; list, confirm or cancel alerts",
        description="Urgent alerts: one item, at once, to the subscribers of its topics who "
        "accept alerts. You are shown how many people will receive it before it goes.",
    )
    sub = alerts_cmd.add_subparsers(dest="action", metavar="ACTION", required=True)
    send = sub.add_parser("send", help="draft an alert of an item and send it once confirmed")
    send.add_argument("item_id", type=int)
    send.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    confirm = sub.add_parser("confirm", help="send a draft alert (e.g. one the CMS made)")
    confirm.add_argument("alert_id", type=int)
    confirm.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    listing = sub.add_parser("list", help="list alerts, newest first")
    listing.add_argument("--status", help="draft, sending, sent or cancelled")
    sub.add_parser("cancel", help="cancel a draft or sending alert").add_argument(
        "alert_id", type=int
    )
    alerts_cmd.set_defaults(handler=alerts_command)

    items_cmd = subcommands.add_parser(
        "items", help="correct, retract or audit an item", description="Items already sent."
    )
    sub = items_cmd.add_subparsers(dest="action", metavar="ACTION", required=True)
    correct = sub.add_parser(
        "correct", help="record a correction and notify exactly the people who received it"
    )
    correct.add_argument("item_id", type=int)
    correct.add_argument("--note", required=True, help="what changed and why (shown to readers)")
    correct.add_argument("--retract", action="store_true", help="retract the item (it is hidden)")
    correct.add_argument("--title", help="the corrected title")
    correct.add_argument("--summary-html", help="the corrected summary (HTML, sanitised)")
    correct.add_argument("--yes", action="store_true", help="send the notice without asking")
    audit = sub.add_parser("audit", help="who received an item, when, through what")
    audit.add_argument("item_id", type=int)
    audit.add_argument("--json", action="store_true", help="print the report as JSON")
    items_cmd.set_defaults(handler=items_command)

    corrections_cmd = subcommands.add_parser(
        "corrections", help="list, send or cancel correction notices", description="Corrections."
    )
    sub = corrections_cmd.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="list corrections, newest first")
    listing.add_argument("--item", type=int, help="only this item's")
    listing.add_argument("--status", help="the notice's status: draft, sending, sent, cancelled")
    send = sub.add_parser("send", help="send a drafted notice (e.g. one the CMS made)")
    send.add_argument("correction_id", type=int)
    send.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    sub.add_parser("cancel", help="cancel a notice (the correction stays)").add_argument(
        "correction_id", type=int
    )
    corrections_cmd.set_defaults(handler=corrections_command)


def who() -> str:
    try:
        return f"cli ({getpass.getuser()})"
    except (KeyError, OSError):
        return "cli"


def ask(question: str) -> bool:
    """y/N on the terminal; no answer (end of input) is no."""
    print(f"{question} [y/N] ", end="", flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


async def confirmed_send(
    count: int, question: Callable[[int], str], yes: bool,
    send: Callable[[int], Awaitable[int]],
) -> int | None:  # fmt: skip
    """Ask, send with the count the editor saw; if the audience moved meanwhile, ask again
    with the new count. None when the editor said no."""
    while True:
        if not yes and not ask(question(count)):
            return None
        try:
            return await send(count)
        except AudienceChanged as changed:
            print(f"mailer: {changed}", file=sys.stderr)
            count = changed.current
            if yes:
                yes = False  # a changed audience always needs a human's yes


async def alerts_command(settings: Settings, args: argparse.Namespace) -> int:
    async with open_database(settings) as (pool, _):
        if args.action == "list":
            for a in await alerts.list_alerts(pool, status=args.status):
                print(
                    f"{a['alert_id']:>6}  {a['status']:<9} item {a['item_id']:<6} "
                    f"{a['sent']:>7,} of {a['recipients']:>7,}  {a['subject']}"
                )
            return 0
        if args.action == "cancel":
            await alerts.get_alert(pool, args.alert_id)
            cancelled = await mailings.cancel(pool, args.alert_id)
            print(f"alert {args.alert_id} cancelled ({counted(cancelled, 'mail')} not sent)")
            return 0
        if args.action == "send":
            draft = await alerts.create(pool, settings, args.item_id, requested_by=who())
            alert_id, count, created = draft.notice_id, draft.recipients, draft.created
            print(f"Alert {alert_id}: {draft.subject}")
        else:
            found = await alerts.get_alert(pool, args.alert_id)
            alert_id, count, created = args.alert_id, found["recipients"], False
            print(f"Alert {alert_id}: {found['subject']}")
        made = await confirmed_send(
            count,
            lambda n: f"Send to {counted(n, 'subscriber')}?",
            args.yes,
            lambda n: alerts.confirm(pool, settings, alert_id, confirmed=n, confirmed_by=who()),
        )
        if made is None:
            if created:
                await mailings.cancel(pool, alert_id)
            print("Not sent." + (" The draft was discarded." if created else ""))
            return 1
        print(f"Alert {alert_id} is sending to {counted(made, 'subscriber')}.")
        print(f"Follow it with: mailer mailings watch {alert_id}")
    return 0


async def items_command(settings: Settings, args: argparse.Namespace) -> int:
    async with open_database(settings) as (pool, _):
        if args.action == "audit":
            report = await audit(pool, args.item_id, settings.base_url)
            print(json.dumps(report, indent=2, default=str) if args.json else format_audit(report))
            return 0
        change = corrections.Change(args.note, args.retract, args.title, args.summary_html)
        draft = await corrections.correct(pool, settings, args.item_id, change, requested_by=who())
        what = "Retraction" if args.retract else "Correction"
        print(f"{what} {draft.notice_id} of item {args.item_id} is recorded: the archive shows it.")
        if draft.mailing_id is None:
            print("Nobody who received the item can be mailed any more: no notice.")
            return 0
        return await _send_notice(pool, settings, draft.notice_id, draft.recipients, args.yes)


async def _send_notice(
    pool: asyncpg.Pool, settings: Settings, correction_id: int, count: int, yes: bool
) -> int:
    made = await confirmed_send(
        count,
        lambda n: f"Send the notice to the {people(n)} who received the item?",
        yes,
        lambda n: corrections.confirm(
            pool, settings, correction_id, confirmed=n, confirmed_by=who()
        ),
    )
    if made is None:
        print(
            f"The notice was not sent; it waits as a draft: `mailer corrections send "
            f"{correction_id}` sends it, `mailer corrections cancel {correction_id}` drops it."
        )
        return 1
    print(f"The correction notice is sending to {people(made)}.")
    return 0


async def corrections_command(settings: Settings, args: argparse.Namespace) -> int:
    async with open_database(settings) as (pool, _):
        if args.action == "list":
            for c in await corrections.list_corrections(
                pool, item_id=args.item, status=args.status
            ):
                notice = f"{c['notice_status'] or 'no notice':<9} {c['sent']:>7,} of " + (
                    f"{c['recipients']:>7,}"
                )
                print(f"{c['correction_id']:>6}  item {c['item_id']:<6} {c['kind']:<10} "
                      f"{notice}  {c['note'][:60]}")  # fmt: skip
            return 0
        found = await corrections.get_correction(pool, args.correction_id)
        if found["mailing_id"] is None:
            raise Conflict(f"correction {args.correction_id} has no notice")
        if args.action == "cancel":
            await mailings.cancel(pool, found["mailing_id"])
            print(f"the notice of correction {args.correction_id} is cancelled")
            return 0
        print(f"{found['kind'].capitalize()} {args.correction_id} of item {found['item_id']}:")
        print(f"  {found['note']}")
        return await _send_notice(pool, settings, args.correction_id, found["recipients"], args.yes)
