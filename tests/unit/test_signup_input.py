"""Property tests: whatever a website (or an attacker) posts, parsing answers precisely."""

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailer.audience.signup_input import MAX_TOPICS, parse_signup
from mailer.errors import InvalidInput

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
fields = st.sampled_from(
    ["email", "name", "topics", "source", "consent_text", "locale", "ip", "user_agent", "other"]
)


@settings(max_examples=300, deadline=None)
@given(body=st.dictionaries(fields, json_values, max_size=9))
def test_any_json_object_is_parsed_or_refused_with_field_errors(body: dict[str, Any]) -> None:
    problem: InvalidInput | None = None
    try:
        request = parse_signup(body)
    except InvalidInput as exc:
        problem = exc
    if problem is not None:
        assert problem.fields
        assert set(problem.fields) <= {*body, "email"}
        return
    assert "@" in request.email
    if request.name is not None:
        assert not re.search(r"[\x00-\x1f<>]", request.name)
    if request.topics is not None:
        assert len(request.topics) <= MAX_TOPICS


@settings(max_examples=200, deadline=None)
@given(body=json_values)
def test_anything_but_an_object_is_refused(body: Any) -> None:
    if isinstance(body, dict):
        return
    with pytest.raises(InvalidInput):
        parse_signup(body)


@given(
    local=st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True),
    domain=st.sampled_from(["example.org", "EXAMPLE.ORG", "Example.Org"]),
)
def test_addresses_are_normalised(local: str, domain: str) -> None:
    request = parse_signup({"email": f"  {local}@{domain} "})
    assert request.email == f"{local}@example.org"


def test_international_addresses_are_accepted() -> None:
    assert parse_signup({"email": "zoë@bücher.de"}).email == "zoë@bücher.de"
    assert parse_signup({"email": "ZOË@BÜCHER.DE"}).email == "ZOË@bücher.de"


def test_topics_are_deduplicated_and_comma_lists_accepted() -> None:
    request = parse_signup({"email": "a@example.org", "topics": "road-safety, Road-Safety,lead"})
    assert request.topics == ("road-safety", "lead")


@pytest.mark.parametrize("topics", [[], "", " , ", [" "]])
def test_an_empty_topic_list_is_refused(topics: Any) -> None:
    # It made a subscriber who confirmed and then never received anything; leaving the
    # field out still means every public topic.
    with pytest.raises(InvalidInput) as refused:
        parse_signup({"email": "a@example.org", "topics": topics})
    assert refused.value.fields == {
        "topics": "at least one topic (leave the field out for every public topic)"
    }
    assert parse_signup({"email": "a@example.org"}).topics is None


@pytest.mark.parametrize(("email", "problem"), [(42, "must be a string"), (None, "required")])
def test_an_address_of_the_wrong_type_is_not_called_missing(email: Any, problem: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_signup({"email": email})
    assert refused.value.fields == {"email": problem}
