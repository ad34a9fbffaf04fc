"""Rotating the secret key (issue 19, item 2): the first key signs, every listed key
verifies, so links in mail sent before a rotation keep working."""

from dataclasses import replace
from pathlib import Path

import pytest

from mailer.config import ensure_dev_secret_key, load_settings
from mailer.errors import ConfigError
from mailer.tokens import InvalidToken, Purpose, Signer
from mailer.web.console.session import serializer

OLD = "o" * 40
NEW = "n" * 40
PRODUCTION = {
    "MAILER_ENV": "production",
    "MAILER_DATABASE_URL": "postgresql://mailer@db.internal:5432/mailer",
    "MAILER_SMTP_URL": "smtp://relay.internal:587",
    "MAILER_BASE_URL": "https://news.example.org/",
    "MAILER_FROM": "Health News <news@health.example.org>",
    "MAILER_POSTAL_ADDRESS": "1 Main St, Springfield",
}


def test_every_kind_of_token_signed_with_the_old_key_verifies_after_a_rotation() -> None:
    old, rotated = Signer(OLD), Signer([NEW, OLD])
    for purpose in (Purpose.UNSUBSCRIBE, Purpose.PREFERENCES):
        token = old.subscriber_token(purpose, 42, 3)
        assert rotated.read_subscriber_token(purpose, token) == (42, 3)
        with pytest.raises(InvalidToken):  # the old key only verifies for its own purpose
            rotated.read_subscriber_token(Purpose.BOUNCE, token)
    verp = old.bounce_address("bounces", "health.example.org", 987654)
    assert rotated.read_bounce_address(verp) == 987654
    assert rotated.read_form_stamp(old.form_stamp(1_700_000_000)) == 1_700_000_000
    assert rotated.read_blob(Purpose.CURSOR, old.sign_blob(Purpose.CURSOR, b"page")) == b"page"


def test_the_first_key_signs_and_a_retired_key_no_longer_verifies() -> None:
    rotated = Signer([NEW, OLD])
    token = rotated.subscriber_token(Purpose.UNSUBSCRIBE, 7, 1)
    assert token == Signer(NEW).subscriber_token(Purpose.UNSUBSCRIBE, 7, 1)
    assert rotated.bounce_address("b", "x.org", 5) == Signer(NEW).bounce_address("b", "x.org", 5)
    retired = Signer(NEW)
    with pytest.raises(InvalidToken):
        retired.read_subscriber_token(
            Purpose.UNSUBSCRIBE, Signer(OLD).subscriber_token(Purpose.UNSUBSCRIBE, 7, 1)
        )
    with pytest.raises(InvalidToken):
        retired.read_bounce_address(Signer(OLD).bounce_address("b", "x.org", 5))
    with pytest.raises(InvalidToken):  # a key never listed verifies nothing
        Signer([NEW, OLD]).read_subscriber_token(
            Purpose.UNSUBSCRIBE, Signer("x" * 40).subscriber_token(Purpose.UNSUBSCRIBE, 7, 1)
        )


def test_secret_keys_sign_with_the_first_and_secret_key_still_verifies() -> None:
    both = load_settings(
        {"MAILER_SECRET_KEYS": f"{NEW}, {OLD}", "MAILER_SECRET_KEY": "k" * 40}, dotenv=False
    )
    assert both.signing_keys == (NEW, OLD, "k" * 40)
    only_one = load_settings({"MAILER_SECRET_KEY": OLD}, dotenv=False)
    assert only_one.signing_keys == (OLD,)
    repeated = load_settings(
        {"MAILER_SECRET_KEYS": f"{NEW},{OLD}", "MAILER_SECRET_KEY": OLD}, dotenv=False
    )
    assert repeated.signing_keys == (NEW, OLD)
    assert "n" * 40 not in str(both.redacted())


def test_production_accepts_either_setting_and_checks_every_key() -> None:
    assert load_settings(PRODUCTION | {"MAILER_SECRET_KEYS": f"{NEW},{OLD}"}, dotenv=False)
    with pytest.raises(ConfigError) as caught:
        load_settings(PRODUCTION, dotenv=False)
    assert any("MAILER_SECRET_KEY is required" in p for p in caught.value.problems)
    with pytest.raises(ConfigError) as caught:
        load_settings(PRODUCTION | {"MAILER_SECRET_KEYS": f"{NEW},short"}, dotenv=False)
    assert any("MAILER_SECRET_KEYS" in p and "32" in p for p in caught.value.problems)


def test_development_generates_no_key_when_keys_are_given(tmp_path: Path) -> None:
    settings = load_settings(
        {"MAILER_SECRET_KEYS": NEW, "MAILER_DATA_DIR": str(tmp_path)}, dotenv=False
    )
    assert ensure_dev_secret_key(settings).signing_keys == (NEW,)
    assert not (tmp_path / "secret_key").exists()


def test_console_sessions_survive_a_rotation() -> None:
    before = load_settings({"MAILER_SECRET_KEY": OLD}, dotenv=False)
    after = replace(before, secret_key="", secret_keys=(NEW, OLD))
    cookie = serializer(before).dumps("session-token")
    assert serializer(after).loads(cookie) == "session-token"
    signed_after = serializer(after).dumps("x")  # signed with the new key
    assert serializer(replace(before, secret_key=NEW)).loads(signed_after) == "x"
