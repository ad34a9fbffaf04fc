"""A delivery's values and message as the Composer builds them: the texts it keeps per
language (greeting, why they get it) and the To header's fast path."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from email.utils import formataddr
from pathlib import Path
from typing import cast

import asyncpg
from hypothesis import given
from hypothesis import strategies as st

from mailer.config import Settings
from mailer.delivery.compose import Composer
from mailer.delivery.render import _address_header, clean_header_text, compile_part, slot
from mailer.models import ClaimedDelivery
from mailer.runtime.mail_kinds import standard_slot_providers
from tests.support.factories import engine_settings


def composer_for(settings: Settings) -> Composer:
    return Composer(
        cast(asyncpg.Pool, None),  # transactional mail reads nothing from the database here
        settings,
        template_dirs=[Path("templates")],
        slot_providers=standard_slot_providers(settings),
    )


def confirmation(locale: str | None, name: str | None, number: int = 1) -> ClaimedDelivery:
    return ClaimedDelivery(
        delivery_id=100 + number,
        mailing_id=None,
        subscriber_id=7,
        kind="confirm",
        recipient=f"reader{number}@example.org",
        payload={"confirmation_id": number, "nonce": "ab" * 16},
        item_ids=None,
        attempts=0,
        created_at=datetime(2026, 12, 6, 5, 0, tzinfo=UTC),
        name=name,
        key_version=1,
        plain_text_only=False,
        locale=locale,
    )


def test_each_language_keeps_its_own_greeting_and_reason(tmp_path: Path) -> None:
    settings = engine_settings(tmp_path)
    composer = composer_for(settings)
    order = [("en", "Ann"), ("es", "Bea"), ("en", None), ("es-MX", None), (None, "Cy")]
    got = [composer.values_for(confirmation(loc, name)) for loc, name in order]
    assert [v["greeting"] for v in got] == [
        "Hello Ann,",
        "Hola, Bea:",
        "Hello,",
        "Hola:",
        "Hello Cy,",
    ]
    assert got[0]["reason"] == got[2]["reason"] != got[1]["reason"] == got[3]["reason"]
    assert settings.organisation in got[1]["reason"]  # in Spanish
    assert got[1]["reason"].startswith("Recibe")
    # A composer that has seen nothing yet says the same for each (nothing stale kept).
    for (loc, name), values in zip(order, got, strict=True):
        assert composer_for(engine_settings(tmp_path)).values_for(confirmation(loc, name)) == (
            values
        )


def test_the_texts_follow_the_settings_of_each_composer(tmp_path: Path) -> None:
    first = composer_for(engine_settings(tmp_path))
    other = composer_for(dataclasses.replace(engine_settings(tmp_path), organisation="Zeta Desk"))
    assert "Zeta Desk" not in first.values_for(confirmation("es", "Ann"))["reason"]
    assert "Zeta Desk" in other.values_for(confirmation("es", "Ann"))["reason"]


def test_whole_confirmations_in_two_languages_carry_their_own_texts(tmp_path: Path) -> None:
    composer = composer_for(engine_settings(tmp_path))
    compiled = {
        language: composer.compile_kind(
            "confirm", {}, list_id=None, mailing_id=None, bulk=False, language=language
        )
        for language in ("en", "es")
    }
    for number, language in enumerate(["en", "es", "en", "es"]):
        data = composer.build(compiled[language], confirmation(language, "Ann", number)).data
        assert (b"Hola, Ann:" in data) is (language == "es")
        assert (b"Hello Ann," in data) is (language == "en")


_NAMES = st.text(
    alphabet=st.sampled_from(list("abcXYZ .,;:<>@()[]\\\"'!#é\n\x00\u2028-")), max_size=20
)


@given(name=st.one_of(st.none(), _NAMES))
def test_the_to_header_is_what_formataddr_writes(name: str | None) -> None:
    address = "zoe.reader@example.org"
    expected = formataddr((clean_header_text(name or ""), address), charset="utf-8")
    assert _address_header(address, name) == expected.replace("\n", "\r\n").encode()


def test_a_percent_sign_beside_a_value_stays_as_written() -> None:
    part = compile_part(f"Save 50% %s %(x)s {slot('code')} 100%%\n", escape=False)
    encoded = part.encode({"code": "A%sB"}, None)
    assert encoded == b"Save 50% %s %(x)s A%sB 100%%\r\n"
