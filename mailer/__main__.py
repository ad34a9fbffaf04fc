"""`python -m mailer` is the `mailer` command."""

from mailer.commands.cli import main

raise SystemExit(main())
