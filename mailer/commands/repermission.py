"""The `mailer repermission` command (registered in cli.py): count, start, follow and close
a re-permission campaign. Every send and every removal asks first, with the count."""

from __future__ import annotations

import argparse

from mailer.commands.alerts import ask, confirmed_send, who
from mailer.config import Settings
from mailer.editorial import repermission
from mailer.numbers import people
from mailer.runtime.database import open_database


def add_parser(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = subcommands.add_parser(
        "repermission",
        help="ask long-time readers whether they still want the mail",
        description="Re-permission: readers who confirmed more than MONTHS ago get "
        "'Do you still want these?'; after DAYS, those who did not answer are unsubscribed "
        "only when you confirm it.",
    )
    sub = cmd.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (("count", "how many readers a campaign would ask"),
                       ("start", "draft a campaign and send it once confirmed")):  # fmt: skip
        action = sub.add_parser(name, help=text)
        action.add_argument("--months", type=int, required=True)
        action.add_argument("--days", type=int, default=30, help="days to answer (30)")
        action.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    sub.add_parser("status", help="a campaign's counts").add_argument("campaign_id", type=int)
    close = sub.add_parser("close", help="after the window: unsubscribe who did not answer")
    close.add_argument("campaign_id", type=int)
    cmd.set_defaults(handler=repermission_command)


def _counts(c: dict[str, object]) -> str:
    return (
        f"campaign {c['campaign_id']} ({c['status']}): asked {c['asked']}, sent {c['sent']}, "
        f"answered yes {c['answered']}, unsubscribed meanwhile {c['left_meanwhile']}, "
        f"no answer {c['no_answer']}"
        + (f", answer by {c['answer_by']:%Y-%m-%d %H:%M} UTC" if c["answer_by"] else "")
    )


async def repermission_command(settings: Settings, args: argparse.Namespace) -> int:
    async with open_database(settings) as (pool, _):
        if args.action in ("count", "start"):
            terms = repermission.check_terms(args.months, args.days)
            if args.action == "count":
                print(f"{people(await repermission.preview_count(pool, terms))} would be asked")
                return 0
            draft = await repermission.create_campaign(pool, settings, terms, requested_by=who())
            campaign_id = draft["campaign_id"]
            made = await confirmed_send(
                draft["recipients"],
                lambda n: f"Send 'Do you still want these?' to {people(n)}?",
                args.yes,
                lambda n: repermission.send_campaign(
                    pool, settings, campaign_id, confirm=n, by=who()
                ),
            )
            if made is None:
                await repermission.cancel_campaign(pool, campaign_id, by=who())
                print("Not sent. The draft was dropped.")
                return 1
            print(f"Campaign {campaign_id} is sending to {people(made)}.")
            return 0
        campaign = await repermission.get_campaign(pool, args.campaign_id)
        print(_counts(campaign))
        if args.action == "status":
            return 0
        count = int(campaign["no_answer"])
        if not ask(f"Unsubscribe the {people(count)} who did not answer?"):
            print("Nobody was removed.")
            return 1
        removed = await repermission.remove_unanswered(
            pool, args.campaign_id, confirm=count, by=who()
        )
        print(f"{people(removed)} unsubscribed (re-permission: no answer).")
    return 0
