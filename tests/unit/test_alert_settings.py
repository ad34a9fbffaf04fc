"""The alert and correction settings: what each value means, and refusals."""

from __future__ import annotations

import pytest

from mailer.config import NoticeMode, Settings, load_settings
from mailer.errors import ConfigError


def settings(**env: str) -> Settings:
    return load_settings(env, dotenv=False)


def test_defaults_are_safe() -> None:
    found = settings()
    assert found.cms_alerts is NoticeMode.OFF
    assert found.cms_corrections is NoticeMode.DRAFT
    assert found.cms_alerts_per_hour == 5
    assert found.alert_subject_prefix == "[Alert]"
    assert found.correction_subject_prefix == "[Correction]"


@pytest.mark.parametrize(
    ("value", "mode"),
    [("true", NoticeMode.DRAFT), ("draft", NoticeMode.DRAFT), ("SEND", NoticeMode.SEND),
     ("false", NoticeMode.OFF), ("off", NoticeMode.OFF)],
)  # fmt: skip
def test_cms_alerts_values(value: str, mode: NoticeMode) -> None:
    assert settings(MAILER_CMS_ALERTS=value).cms_alerts is mode


def test_bad_values_are_each_named() -> None:
    with pytest.raises(ConfigError) as error:
        settings(
            MAILER_CMS_ALERTS="sometimes",
            MAILER_CMS_CORRECTIONS="off",
            MAILER_CMS_ALERTS_PER_HOUR="0",
            MAILER_ALERT_SUBJECT_PREFIX="x" * 41,
        )
    text = "\n".join(error.value.problems)
    for name in ("MAILER_CMS_ALERTS must", "MAILER_CMS_CORRECTIONS", "PER_HOUR", "subject prefix"):
        assert name in text


def test_prefixes_can_be_changed() -> None:
    found = settings(MAILER_ALERT_SUBJECT_PREFIX="URGENT:", MAILER_CMS_ALERTS_PER_HOUR="20")
    assert found.alert_subject_prefix == "URGENT:" and found.cms_alerts_per_hour == 20
