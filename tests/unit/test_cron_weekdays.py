"""Series schedules read the weekday field as standard cron does (1 = Monday, 0/7 = Sunday)."""

from datetime import UTC, datetime

import pytest

from mailer.errors import InvalidInput
from mailer.series import cron_weekdays, next_occurrence


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
