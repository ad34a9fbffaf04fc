"""Whole numbers from untrusted text: ASCII digits only, bounded."""

import pytest

from mailer.numbers import whole_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("42", 42),
        ("123456789012345678", 123456789012345678),  # 18 digits: a bigint
        ("1234567890123456789", None),  # 19 digits may overflow a bigint
        ("", None),
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1.0", None),
        ("²", None),  # isdigit() says yes, int() refuses
        ("٣", None),  # int() would read 3
        ("1e3", None),
    ],
)
def test_whole_number(text: str, expected: int | None) -> None:
    assert whole_number(text) == expected


def test_max_digits() -> None:
    assert whole_number("65535", max_digits=5) == 65535
    assert whole_number("655350", max_digits=5) is None


def test_counts_agree_with_their_noun() -> None:
    from mailer.numbers import counted, people

    assert people(1) == "1 person"
    assert people(2) == "2 people"
    assert people(1204) == "1,204 people"
    assert counted(1, "subscriber") == "1 subscriber"
    assert counted(0, "mail") == "0 mails"


def test_a_one_recipient_notice_says_person() -> None:
    import pytest

    from mailer.editorial.notices import check_confirmation
    from mailer.errors import Conflict

    with pytest.raises(Conflict, match="goes to 1 person, not 2"):
        check_confirmation("alert", 1, 2)
