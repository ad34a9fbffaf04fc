"""Times in words for the admin pages: "in 3 days", "Tuesday 1 December 2026, 09:00 CET"."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import jinja2

_UNITS = ((86_400, "day"), (3_600, "hour"), (60, "minute"))


def relative(moment: datetime | None, now: datetime | None = None) -> str:
    """How far a moment is from now, in the largest whole unit: "in 2 days", "5 minutes ago"."""
    if moment is None:
        return ""
    seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    size = abs(seconds)
    if size < 60:
        return "in under a minute" if seconds > 5 else "just now"
    for unit_seconds, unit in _UNITS:
        if size >= unit_seconds:
            count = int(size // unit_seconds)
            words = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"in {words}" if seconds > 0 else f"{words} ago"
    raise AssertionError("unreachable: a minute or more matches a unit")


def day_and_time(moment: datetime | None, zone: str) -> str:
    """A moment in a named zone with its weekday and the zone's abbreviation."""
    if moment is None:
        return ""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} {local.tzname()}"


def install(pages: jinja2.Environment) -> None:
    pages.filters["relative"] = relative
    pages.filters["day_and_time"] = day_and_time
