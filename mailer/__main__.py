"""`python -m mailer` is the `mailer` command."""

from mailer.cli import main

raise SystemExit(main())
