"""`mailer editors ...`: editor accounts of the console (the parser is in cli.py)."""

from __future__ import annotations

import argparse
import sys

from mailer.accounts import editors
from mailer.config import Settings
from mailer.runtime.database import open_database


def add_parser(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    editors_cmd = subcommands.add_parser(
        "editors",
        help="add, list, disable editor accounts of the web console",
        description="Editor accounts of the web console (/console).",
    )
    sub = editors_cmd.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser(
        "add", help="add an account; prints a one-time set-password link (valid 72 hours)"
    )
    add.add_argument("email")
    add.add_argument("--name", default="")
    add.add_argument("--role", choices=["editor", "admin"], default="editor")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of printing a link",
    )
    sub.add_parser("list", help="list accounts")
    for action, text in (
        ("disable", "stop an account from signing in; its open sessions end at once"),
        ("enable", "let a disabled account sign in again"),
        ("reset-password", "print a new one-time set-password link"),
    ):
        sub.add_parser(action, help=text).add_argument("email")
    role = sub.add_parser("set-role", help="make an account an editor or an admin")
    role.add_argument("email")
    role.add_argument("role", choices=["editor", "admin"])
    editors_cmd.set_defaults(handler=editors_command)


def _link(settings: Settings, token: str) -> str:
    return f"{settings.base_url}/console/set-password/{token}"


async def editors_command(settings: Settings, args: argparse.Namespace) -> int:
    async with open_database(settings) as (pool, _):
        if args.action == "add":
            password = None
            if args.password_stdin:
                password = sys.stdin.readline().rstrip("\r\n")
            editor_id, token = await editors.create_editor(
                pool, email=args.email, name=args.name, role=args.role, password=password
            )
            print(f"added {args.role} {editor_id} ({args.email.strip()})")
            if token:
                print("Send them this link to choose a password (works once, for 72 hours):")
                print(_link(settings, token))
            else:
                print(f"They can sign in at {settings.base_url}/console/sign-in")
        elif args.action == "list":
            for row in await editors.list_editors(pool):
                state = "disabled" if row["disabled_at"] else "active"
                if not row["has_password"]:
                    state += ", no password yet"
                seen = row["last_sign_in_at"]
                last = f"{seen:%Y-%m-%d %H:%M}" if seen else "never"
                print(
                    f"{row['editor_id']:>4}  {row['email']:<36} {row['role']:<7} "
                    f"{state:<26} last sign-in {last}  {row['name']}"
                )
        elif args.action == "disable":
            await editors.disable_editor(pool, args.email)
            print(f"{args.email} disabled; their sessions have ended")
        elif args.action == "enable":
            await editors.enable_editor(pool, args.email)
            print(f"{args.email} enabled")
        elif args.action == "set-role":
            await editors.set_role(pool, args.email, args.role)
            print(f"{args.email} is now {args.role}")
        else:
            token = await editors.password_link_token(pool, args.email)
            print("Send them this link to choose a new password (works once, for 72 hours):")
            print(_link(settings, token))
    return 0
