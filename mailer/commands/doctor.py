"""`mailer doctor`: the sender's DNS set-up (SPF, DKIM, DMARC, the bounce MX), checked and
explained in words (mailer.feedback.dns_check); exits 1 when something must be fixed."""

from __future__ import annotations

import argparse
from typing import Any

from mailer.config import Settings

_MARK = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL"}


def add_parser(subcommands: Any) -> None:
    doctor = subcommands.add_parser(
        "doctor",
        help="check SPF, DKIM, DMARC and the bounce MX in DNS, and say what to fix",
        description="Reads DNS (through MAILER_DNS_RESOLVER, if set) for the sender's domains "
        "and explains what an operator must set up for mail to arrive.",
    )
    doctor.add_argument(
        "--receiver",
        help="the host name or address of the bounce receiver, which the bounce domain's MX "
        "must reach",
    )
    doctor.set_defaults(handler=doctor_command)


async def doctor_command(settings: Settings, args: argparse.Namespace) -> int:
    # Here, not at the top: dnspython is a tenth of every mailer command's start-up.
    from mailer.feedback.dns_check import FAIL, check_domain, public_key_record

    findings = await check_domain(settings, receiver=args.receiver)
    for finding in findings:
        print(f"{_MARK[finding.status]} {finding.check.upper():<5} {finding.text}")
    if settings.dkim_key_file is not None:
        name = f"{settings.dkim_selector}._domainkey.{settings.dkim_domain}"
        print(f"\nThe DKIM record to publish at {name} (TXT):")
        print(f"  {public_key_record(settings.dkim_key_file)}")
    return 1 if any(f.status == FAIL for f in findings) else 0
