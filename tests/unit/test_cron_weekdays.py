"""Series schedules read the weekday field as standard cron does (1 = Monday, 0/7 = Sunday)."""

from datetime import UTC, datetime

import pytest

from mailer.editorial.series import cron_weekdays, next_occurrence
from mailer.errors import InvalidInput


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("*", "*"),
        ("1", "mon"),
        ("0", "sun"),
        ("7", "sun"),
        ("tue", "tue"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("mon-fri", "mon,tue,wed,thu,fri"),
        ("5-7", "sun,fri,sat"),
        ("fri-sun", "sun,fri,sat"),
        ("0,6", "sun,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("1/3", "mon,thu"),
    ],
)
def test_weekday_field_as_standard_cron(field: str, names: str) -> None:
    assert cron_weekdays(field) == names


@pytest.mark.parametrize("field", ["8", "funday", "5-2", "*/0", "1-x"])
def test_bad_weekday_fields_are_refused(field: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message names the field
        cron_weekdays(field)


def test_monday_at_nine_is_a_monday() -> None:
    thursday = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    fire = next_occurrence("0 9 * * 1", "America/New_York", thursday)
    assert fire is not None
    assert fire.strftime("%A %H:%M") == "Monday 09:00"
    assert next_occurrence("0 9 * * 0", "UTC", thursday).strftime("%A") == "Sunday"  # type: ignore[union-attr]


def test_a_bad_weekday_is_an_input_error() -> None:
    with pytest.raises(InvalidInput):
        next_occurrence("0 9 * * 9", "UTC", datetime(2026, 11, 26, tzinfo=UTC))


@pytest.mark.parametrize(
    ("cron", "zone", "start", "expected"),
    [
        # Clocks go back at 02:00 EDT on 1 November 2026: 01:30 happens twice.
        ("30 1 * * 0", "America/New_York", datetime(2026, 10, 30, tzinfo=UTC),
         [datetime(2026, 11, 1, 5, 30, tzinfo=UTC), datetime(2026, 11, 8, 6, 30, tzinfo=UTC)]),
        # Clocks go back at 03:00 CEST on 25 October 2026: 02:30 happens twice.
        ("30 2 * * 0", "Europe/Berlin", datetime(2026, 10, 23, tzinfo=UTC),
         [datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 11, 1, 1, 30, tzinfo=UTC)]),
        # Clocks go forward at 02:00 CET on 29 March 2026: 02:30 never happens; sent at 03:30.
        ("30 2 * * 0", "Europe/Berlin", datetime(2026, 3, 27, tzinfo=UTC),
         [datetime(2026, 3, 29, 1, 30, tzinfo=UTC), datetime(2026, 4, 5, 0, 30, tzinfo=UTC)]),
    ],
)  # fmt: skip
def test_a_local_time_that_happens_twice_is_one_occurrence(
    cron: str, zone: str, start: datetime, expected: list[datetime]
) -> None:
    first = next_occurrence(cron, zone, start)
    assert first is not None
    second = next_occurrence(cron, zone, first)
    assert [first.astimezone(UTC), second.astimezone(UTC)] == expected  # type: ignore[union-attr]
