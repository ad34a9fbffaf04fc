"""Reading a posted console form field by field: a precise message per bad field, and the
values as entered, so a refused form comes back filled in (400) with each message beside
its field. Nothing is written unless every field is right."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from multidict import MultiDict, MultiMapping

from mailer.errors import Conflict, InvalidInput

NONCE_FIELD = "form_nonce"


class FormInput:
    def __init__(self, form: MultiMapping[Any]) -> None:
        self._form = form
        self.values: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        self.status = 400

    @classmethod
    async def read(cls, request: web.Request) -> FormInput:
        return cls(await request.post())

    @classmethod
    def prefilled(cls, values: dict[str, Any]) -> FormInput:
        """A form as first shown: these values, no errors."""
        form = cls(MultiDict())
        form.values = dict(values)
        return form

    def _raw(self, name: str) -> str:
        value = self._form.get(name, "")
        return value if isinstance(value, str) else ""

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def text(self, name: str, *, label: str, required: bool = False, max_length: int = 200) -> str:
        """The field stripped of surrounding blanks."""
        value = self._raw(name).strip()
        self.values[name] = value
        if required and not value:
            self.fail(name, f"{label} is required.")
        elif len(value) > max_length:
            self.fail(name, f"{label} is at most {max_length} characters (this is {len(value)}).")
        return value

    def integer(
        self, name: str, *, label: str, minimum: int, maximum: int, default: int | None = None
    ) -> int:
        """A whole number in [minimum, maximum]; `default` when left empty (else required)."""
        text = self._raw(name).strip()
        self.values[name] = text
        if not text and default is not None:
            return default
        try:
            number = int(text, 10) if len(text) <= 12 else None
        except ValueError:
            number = None
        if number is None:
            self.fail(name, f"{label} must be a whole number from {minimum} to {maximum}.")
            return default or minimum
        if not minimum <= number <= maximum:
            self.fail(name, f"{label} must be from {minimum} to {maximum} (not {number}).")
        return number

    def since(self, name: str, *, label: str, zone: str) -> datetime | None:
        """A date (the start of that day in the editor's zone) or a date and time (ISO 8601,
        the editor's zone unless it names one); None when left empty."""
        text = self._raw(name).strip()
        self.values[name] = text
        if not text:
            return None
        moment: datetime | None = None
        try:
            if len(text) <= 10:
                moment = datetime.combine(date.fromisoformat(text), time(), ZoneInfo(zone))
            elif len(text) <= 40:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=ZoneInfo(zone))
        except ValueError:
            moment = None
        if moment is None or not 1900 <= moment.year <= 9000:
            shown = text if len(text) <= 40 else text[:40] + "…"
            self.fail(name, f"{label} must be a date like 2026-03-01 (not “{shown}”).")
            return None
        return moment

    def checkbox(self, name: str) -> bool:
        checked = name in self._form
        self.values[name] = checked
        return checked

    def choice(self, name: str, *, label: str, options: Collection[str]) -> str:
        value = self._raw(name)
        self.values[name] = value
        if value not in options:
            self.fail(name, f"Choose a {label.lower()} from the list.")
        return value

    def many(self, name: str, *, label: str, options: Collection[str]) -> list[str]:
        """Every value of a repeated field (checkboxes), each one of `options`."""
        chosen = [v for v in self._form.getall(name, []) if isinstance(v, str)]
        self.values[name] = chosen
        unknown = [v for v in chosen if v not in options]
        if unknown:
            self.fail(name, f"Unknown {label.lower()}: {', '.join(unknown[:5])}.")
        return [v for v in chosen if v in options]

    def nonce(self) -> str | None:
        """The form's one-time nonce (forms that make a secret carry one), if any."""
        return self._raw(NONCE_FIELD).strip() or None

    @property
    def ok(self) -> bool:
        return not self.errors

    def conflict(self, name: str, message: str) -> None:
        """The input clashes with what exists (409), e.g. a name taken already."""
        self.fail(name, message)
        self.status = 409

    def refused(
        self, exc: InvalidInput | Conflict, *, field: str, names: dict[str, str] | None = None
    ) -> None:
        """Take a domain refusal: its field messages (under the form's names where the
        domain calls a field otherwise), or its message on `field`."""
        if isinstance(exc, InvalidInput) and exc.fields:
            for name, message in exc.fields.items():
                self.fail((names or {}).get(name, name), _sentence(message))
        else:
            self.fail(field, _sentence(str(exc)))
        if isinstance(exc, Conflict):
            self.status = 409


def status_of(form: FormInput | None, default: int = 200) -> int:
    """The status of a page showing this form: its refusal's, or `default` when fine."""
    return form.status if form is not None and form.errors else default


def _sentence(message: str) -> str:
    message = message.strip()
    if not message:
        return message
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."
