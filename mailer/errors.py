"""One exception tree; each boundary (HTTP, CLI, SMTP, database) translates it."""

from __future__ import annotations

import os


class MailerError(Exception):
    """Base of every error mailer raises on purpose."""


class StartupError(MailerError):
    """The service cannot start; the message is one sentence for the operator."""


class ConfigError(StartupError):
    """Invalid settings; carries one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class DatabaseUnavailable(StartupError):
    """The database cannot be reached or refused us."""


class MigrationError(StartupError):
    """A migration is missing, edited after it was applied, or failed."""


class NotFound(MailerError):
    """The thing asked for does not exist (or must not be revealed)."""


class Gone(NotFound):
    """It existed, and is no more (a revoked link, an erased subscriber)."""


class Conflict(MailerError):
    """The request clashes with the current state."""


class InvalidInput(MailerError):
    """The input is malformed; carries field errors."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        self.fields = fields or {}
        super().__init__(message)


class DeliveryFailed(MailerError):
    """An SMTP attempt did not deliver; `permanent` decides retry or give up."""

    def __init__(self, message: str, *, permanent: bool, code: int | None = None) -> None:
        self.permanent = permanent
        self.code = code
        super().__init__(message)


class Forbidden(MailerError):
    """The caller may not do this (e.g. a setting turns the feature off)."""


class RateLimited(MailerError):
    """Too many of these too fast; try again after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(message)


def bind_problem(exc: OSError) -> str:
    """Why a socket could not be bound, in a few words ("address already in use"): asyncio's
    own message repeats the address the caller's sentence already names."""
    if exc.errno:
        return os.strerror(exc.errno).lower()
    return str(exc)
