import os
from pathlib import Path

import pytest

from mailer.config import Env, SmtpSecurity, ensure_dev_secret_key, load_settings, redact_url
from mailer.errors import ConfigError

PRODUCTION = {
    "MAILER_ENV": "production",
    "MAILER_DATABASE_URL": "postgresql://mailer:hunter2@db.internal:5432/mailer",
    "MAILER_SMTP_URL": "smtp://relay:s3cret@relay.internal:587?starttls=true",
    "MAILER_SECRET_KEY": "k" * 40,
    "MAILER_BASE_URL": "https://news.example.org/",
    "MAILER_FROM": "Health News <news@health.example.org>",
    "MAILER_POSTAL_ADDRESS": "1 Main St, Springfield",
}


def load(env: dict[str, str]):  # type: ignore[no-untyped-def]
    return load_settings(env, dotenv=False)


def problems_of(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(env)
    return caught.value.problems


def test_development_defaults_need_nothing() -> None:
    settings = load({})
    assert settings.env is Env.DEVELOPMENT
    assert settings.database_url is None
    assert settings.smtp is None
    assert (settings.listen_host, settings.listen_port) == ("127.0.0.1", 8080)
    assert settings.base_url == "http://127.0.0.1:8080"
    assert settings.data_dir == Path(".mailer")


def test_production_parses_every_part() -> None:
    settings = load(PRODUCTION)
    assert settings.is_production
    assert settings.base_url == "https://news.example.org"
    assert settings.smtp is not None
    assert settings.smtp.host == "relay.internal"
    assert settings.smtp.port == 587
    assert settings.smtp.username == "relay"
    assert settings.smtp.password == "s3cret"
    assert settings.smtp.security is SmtpSecurity.STARTTLS


def test_production_requires_every_external_part() -> None:
    problems = problems_of({"MAILER_ENV": "production"})
    joined = "\n".join(problems)
    for name in (
        "MAILER_DATABASE_URL",
        "MAILER_SMTP_URL",
        "MAILER_SECRET_KEY",
        "MAILER_POSTAL_ADDRESS",
        "MAILER_FROM",
    ):
        assert name in joined
    assert len(problems) >= 5  # one line per problem, all at once


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("MAILER_ENV", "staging", "MAILER_ENV must be"),
        ("MAILER_DATABASE_URL", "mysql://x@y/z", "must start with postgresql://"),
        ("MAILER_DATABASE_URL", "postgresql://u@h:99999999/db", "invalid port"),
        ("MAILER_DATABASE_URL", "postgresql://u:pa[ss@h/db", "not a valid URL"),
        ("MAILER_DATABASE_URL", "postgresql://u@[::1/db", "not a valid URL"),
        ("MAILER_SMTP_URL", "smtp://u:pa]ss@relay", "not a valid URL"),
        ("MAILER_SMTP_URL", "http://relay", "smtp:// or smtps://"),
        ("MAILER_SMTP_URL", "smtp://relay:abc", "invalid port"),
        ("MAILER_LISTEN", "8080", "host:port"),
        ("MAILER_LISTEN", "0.0.0.0:70000", "host:port"),
        ("MAILER_BASE_URL", "ftp://x", "http(s) URL"),
        ("MAILER_BASE_URL", "https://[news.example.org", "http(s) URL"),
        ("MAILER_SECRET_KEY", "short", "at least 32"),
        ("MAILER_WEBHOOK_SECRETS", "ok-long-enough-secret,tiny", "at least 16"),
        ("MAILER_FROM", "not an address", "not a valid address"),
        ("MAILER_FROM", "a@b.org\r\nBcc: x@y.org", "line breaks"),
        ("MAILER_SMTP_CONCURRENCY", "many", "must be a number"),
        ("MAILER_SMTP_CONCURRENCY", "0", "between"),
        ("MAILER_SEND_RATE", "-1", "between"),
        ("MAILER_LOG_LEVEL", "LOUD", "MAILER_LOG_LEVEL"),
    ],
)
def test_each_bad_value_gets_one_clear_line(name: str, value: str, fragment: str) -> None:
    problems = problems_of({name: value})
    assert len(problems) == 1
    assert fragment in problems[0]


def test_smtp_url_forms() -> None:
    implicit = load({"MAILER_SMTP_URL": "smtps://u%40x:p%3Aw@mx.example.org"}).smtp
    assert implicit is not None
    assert (implicit.port, implicit.security) == (465, SmtpSecurity.TLS)
    assert (implicit.username, implicit.password) == ("u@x", "p:w")
    plain = load({"MAILER_SMTP_URL": "smtp://127.0.0.1:2525"}).smtp
    assert plain is not None
    assert (plain.port, plain.security, plain.username) == (2525, SmtpSecurity.NONE, None)


def test_webhook_secrets_allow_rotation() -> None:
    settings = load({"MAILER_WEBHOOK_SECRETS": " first-secret-0001 , second-secret-002 ,"})
    assert settings.webhook_secrets == ("first-secret-0001", "second-secret-002")


def test_base_url_defaults_to_listen_address() -> None:
    assert load({"MAILER_LISTEN": "0.0.0.0:9000"}).base_url == "http://127.0.0.1:9000"


def test_base_url_of_an_ipv6_listen_address_is_a_url() -> None:
    assert load({"MAILER_LISTEN": "[::1]:8205"}).base_url == "http://[::1]:8205"


def test_production_base_url_must_be_https() -> None:
    problems = problems_of({**PRODUCTION, "MAILER_BASE_URL": "http://news.example.org"})
    assert problems == ["MAILER_BASE_URL must use https in production"]


def test_redaction_hides_every_secret() -> None:
    shown = "\n".join(load(PRODUCTION).redacted().values())
    for secret in ("hunter2", "s3cret", "k" * 40):
        assert secret not in shown
    assert "db.internal" in shown
    assert redact_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert "hunter2" not in repr(load(PRODUCTION))


def test_dotenv_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("MAILER_LISTEN=127.0.0.1:9001\nMAILER_SEND_RATE=5\n")
    settings = load_settings({"MAILER_DOTENV": str(dotenv), "MAILER_SEND_RATE": "7"})
    assert settings.listen_port == 9001
    assert settings.send_rate == 7.0


def test_a_dotenv_file_that_is_named_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "mailer.env"
    with pytest.raises(ConfigError) as caught:
        load_settings({"MAILER_DOTENV": str(missing)})
    assert caught.value.problems == [f"MAILER_DOTENV names {missing}, which does not exist"]
    assert load_settings({"MAILER_DOTENV": os.devnull}).env is Env.DEVELOPMENT  # reads none


def test_a_dotenv_line_that_cannot_be_read_is_a_problem_not_a_skip(tmp_path: Path) -> None:
    dotenv = tmp_path / "mailer.env"
    dotenv.write_text("MAILER_ENV=production\nMAILER_SECRET_KEY this-is-not-an-assignment\n")
    with pytest.raises(ConfigError) as caught:
        load_settings({"MAILER_DOTENV": str(dotenv)})
    assert caught.value.problems == [
        f"{dotenv}: line 2 is not NAME=value"
    ]  # a secret's value is never echoed


def test_a_dkim_key_that_cannot_be_read_is_refused_at_start(tmp_path: Path) -> None:
    """It used to pass, and then every mail failed for good with 'Private key not found'."""
    key = tmp_path / "dkim.pem"
    key.write_text("-----BEGIN PUBLIC KEY-----\nMIIBIjANBg==\n-----END PUBLIC KEY-----\n")
    env = {"MAILER_DKIM_KEY_FILE": str(key), "MAILER_DKIM_SELECTOR": "mail"}
    assert problems_of(env) == [f"MAILER_DKIM_KEY_FILE {key} is not a PEM RSA private key"]
    key.write_bytes(b"\x00\xff" * 40)
    assert problems_of(env) == [f"MAILER_DKIM_KEY_FILE {key} is not a PEM RSA private key"]


def test_dev_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = load({"MAILER_DATA_DIR": str(tmp_path / "data")})
    first = ensure_dev_secret_key(settings)
    second = ensure_dev_secret_key(settings)
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    assert (tmp_path / "data" / "secret_key").stat().st_mode & 0o077 == 0


def test_a_misspelt_setting_is_named_with_the_one_meant() -> None:
    settings = load({"MAILER_WORKER": "4", "MAILER_SMTP_CONCURENCY": "20", "MAILER_NOPE": "1"})
    assert settings.ignored == (
        "MAILER_NOPE is not a mailer setting and is ignored",
        "MAILER_SMTP_CONCURENCY is not a mailer setting and is ignored "
        "(did you mean MAILER_SMTP_CONCURRENCY?)",
        "MAILER_WORKER is not a mailer setting and is ignored (did you mean MAILER_WORKERS?)",
    )
    assert settings.redacted()["ignored"].startswith("MAILER_NOPE is not")


def test_every_documented_setting_is_read() -> None:
    import re

    root = Path(__file__).parents[2]
    doc = root / "docs" / "operators" / "configuration.md"  # where the table is moving
    text = (doc if doc.exists() else root / "README.md").read_text()
    documented = set(re.findall(r"`(MAILER_[A-Z_]+)`", text))
    assert len(documented) > 50
    assert load(dict.fromkeys(documented, "")).ignored == ()
