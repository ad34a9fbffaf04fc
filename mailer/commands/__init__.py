"""The `mailer` command line: the parser and the handlers of each command group."""
