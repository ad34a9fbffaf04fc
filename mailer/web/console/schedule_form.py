"""The schedule picker: a local date-time in a named time zone (the editor's, remembered)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from aiohttp import web

from mailer.errors import InvalidInput
from mailer.web.console.session import current

DEFAULT_ZONE = "UTC"


def now() -> datetime:
    return datetime.now(UTC)


@cache
def zones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z or z == "UTC")


def editor_zone(request: web.Request) -> str:
    return current(request).editor.timezone or DEFAULT_ZONE


def valid_zone(name: str) -> ZoneInfo:
    if name not in zones():
        raise InvalidInput("invalid time zone", {"timezone": f"unknown time zone {name[:60]!r}"})
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput("invalid time zone", {"timezone": "unknown time zone"}) from exc


def parse_local(text: str, zone_name: str) -> datetime:
    """A datetime-local value ("2026-12-01T09:00") in the named zone, as an aware time.
    A wall time that does not exist there (clocks jump forward) is refused, not shifted."""
    zone = valid_zone(zone_name)
    try:
        naive = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(
            "invalid schedule", {"send_at": "a date and a time, e.g. 2026-12-01 09:00"}
        ) from exc
    if naive.tzinfo is not None:
        raise InvalidInput("invalid schedule", {"send_at": "a local time, without an offset"})
    moment = naive.replace(tzinfo=zone)
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise InvalidInput(
            "invalid schedule",
            {"send_at": f"{naive:%H:%M} does not exist on {naive:%d %B} in {zone_name} "
             "(the clocks change)"},
        )  # fmt: skip
    return moment


def context(
    request: web.Request,
    digest: dict[str, Any],
    zone_name: str,
    typed: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The picker's values: what the editor typed (after a refusal), else the scheduled time,
    else the next full hour. `utc` is that moment for the script that moves the picker to the
    browser's zone (empty for typed values, which the script must leave alone)."""
    zone = ZoneInfo(zone_name)
    scheduled = digest.get("scheduled_at")
    suggested = scheduled or (now() + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    values = {
        "zones": zones(),
        "zone": zone_name,
        "zone_remembered": current(request).editor.timezone is not None,
        "value": suggested.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
        "utc": suggested.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "scheduled_local": scheduled.astimezone(zone) if scheduled else None,
        "scheduled_utc": scheduled.astimezone(UTC) if scheduled else None,
        "scheduled_zone": zone_name,
    }
    if typed:
        values.update(value=typed.get("send_at", "")[:40], utc="", zone_remembered=True)
        if typed.get("timezone") in zones():
            values["zone"] = typed["timezone"]
    return values
