"""What the CMS pushes is checked field by field before anything is stored."""

from datetime import UTC, datetime, timedelta

import pytest

from mailer.content.push import parse_push
from mailer.errors import InvalidInput


@pytest.mark.parametrize("published", ["yesterday", "20/11/2026", "Fri, 20 Nov 2026 10:00:00 GMT"])
def test_a_date_that_is_not_one_is_named_not_dropped(published: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_push({"items": [{"id": "ok", "title": "Fine"}, {"id": "7", "title": "T",
                                                             "published": published}]})  # fmt: skip
    assert list(raised.value.fields) == ["items[1].published"]


def test_iso_dates_and_no_date_are_accepted() -> None:
    push = parse_push({"items": [
        {"id": "1", "title": "T", "published": "2026-11-20T10:00:00Z"},
        {"id": "2", "title": "U", "published": "2026-11-20"},
        {"id": "3", "title": "V"},
    ]})  # fmt: skip
    assert [item.published_at is not None for item, _ in push.items] == [True, True, False]


def test_a_date_far_in_the_future_is_refused() -> None:
    far = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()  # clocks differ
    with pytest.raises(InvalidInput) as raised:
        parse_push({"items": [{"id": "1", "title": "T", "published": far},
                              {"id": "2", "title": "U", "published": soon}]})  # fmt: skip
    assert raised.value.fields == {
        "items[0].published": "is in the future: push an item once it is published"
    }
