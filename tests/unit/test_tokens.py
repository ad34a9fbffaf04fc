import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailer.tokens import InvalidToken, Purpose, Signer

SIGNER = Signer("s" * 40)


def test_subscriber_token_round_trip() -> None:
    token = SIGNER.subscriber_token(Purpose.PREFERENCES, 42, 3)
    assert SIGNER.read_subscriber_token(Purpose.PREFERENCES, token) == (42, 3)
    assert len(token) < 48  # short enough for a link


def test_token_for_one_purpose_is_refused_for_another() -> None:
    token = SIGNER.subscriber_token(Purpose.PREFERENCES, 42, 1)
    with pytest.raises(InvalidToken):
        SIGNER.read_subscriber_token(Purpose.UNSUBSCRIBE, token)


def test_other_secret_is_refused() -> None:
    token = Signer("t" * 40).subscriber_token(Purpose.UNSUBSCRIBE, 42, 1)
    with pytest.raises(InvalidToken):
        SIGNER.read_subscriber_token(Purpose.UNSUBSCRIBE, token)


@given(position=st.integers(min_value=0, max_value=37), char=st.sampled_from("AQgw_-09"))
def test_any_tampering_is_refused(position: int, char: str) -> None:
    token = SIGNER.subscriber_token(Purpose.UNSUBSCRIBE, 7, 1)
    tampered = token[:position] + char + token[position + 1 :]
    if tampered == token:
        return
    with pytest.raises(InvalidToken):
        SIGNER.read_subscriber_token(Purpose.UNSUBSCRIBE, tampered)


@given(garbage=st.text(max_size=100))
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        SIGNER.read_subscriber_token(Purpose.UNSUBSCRIBE, garbage)


def test_truncated_token_is_refused() -> None:
    token = SIGNER.subscriber_token(Purpose.UNSUBSCRIBE, 7, 1)
    for cut in (1, 5, 20):
        with pytest.raises(InvalidToken):
            SIGNER.read_subscriber_token(Purpose.UNSUBSCRIBE, token[:-cut])


def test_bounce_address_round_trip_and_forgery() -> None:
    address = SIGNER.bounce_address("bounces", "health.example.org", 123456)
    assert address.startswith("bounces+123456-")
    assert address.endswith("@health.example.org")
    assert SIGNER.read_bounce_address(address.upper()) == 123456
    forged = address.replace("123456", "123457")
    with pytest.raises(InvalidToken):
        SIGNER.read_bounce_address(forged)
    with pytest.raises(InvalidToken):
        SIGNER.read_bounce_address("someone@example.org")
