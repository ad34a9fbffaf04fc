"""Mail templates edited in the console: checked before saving (refused with the line,
nothing stored), versions with who and when, revert, back to the default, the console's
version ahead of the data dir's file, a live preview as a subscriber, the edited digest
through SMTP, and a saved version that fails at send time falling back loudly."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from mailer.delivery import compose
from mailer.delivery.compose import Composer
from mailer.delivery.template_versions import in_force
from mailer.editorial import digests
from mailer.models import ClaimedDelivery
from tests.support.console import (
    Client,
    add_editor,
    assert_no_raw_values,
    console_app,
    newsroom,
    signed_in,
    visible_text,
)
from tests.support.factories import engine_settings, running_worker, wait_until
from tests.support.helpers import ClientFactory
from tests.support.smtp_sink import SmtpSink

ADMIN = "root@example.org"


def _bundled(kind: str, part: str) -> str:
    return (Path("templates") / "email" / kind / part).read_text(encoding="utf-8")


def _form(csrf: str, kind: str, **changes: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "subject_txt": changes.get("subject_txt", _bundled(kind, "subject.txt")),
        "body_txt": changes.get("body_txt", _bundled(kind, "body.txt")),
        "body_html": changes.get("body_html", _bundled(kind, "body.html")),
        "subscriber": changes.get("subscriber", ""),
    }


async def _admin(pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path) -> Client:
    await add_editor(pool, ADMIN, role="admin", name="Root")
    return await aiohttp_client(console_app(pool, tmp_path))


async def _versions(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT version_id, kind, action, reverted_from, editor_email, subject_txt "
        "FROM mail_template_versions ORDER BY version_id"
    )


async def test_save_refuse_with_the_line_versions_revert_and_default(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client = await _admin(pool, aiohttp_client, tmp_path)
    csrf = await signed_in(client, ADMIN)
    listing = await client.get("/console/templates")
    assert listing.status == 200
    html = await listing.text()
    assert_no_raw_values(html)
    for label in ("Digest", "Urgent alert", "Correction notice", "Confirmation", "Welcome"):
        assert label in visible_text(html)

    page = await client.get("/console/templates/digest")
    assert page.status == 200
    html = await page.text()
    assert_no_raw_values(html)
    assert "the default that ships with the mailer" in visible_text(html)
    assert "only_for(section)" in html  # the bundled source, to edit

    # A syntax error on line 4 of the HTML part: refused with the line, nothing stored.
    broken = _bundled("digest", "body.html").replace(
        "{% block content %}\n", "{% block content %}\n{% for x in %}\n", 1
    )
    refused = await client.post("/console/templates/digest", data=_form(csrf, "digest",
                                body_html=broken))  # fmt: skip
    assert refused.status == 422
    text = visible_text(await refused.text())
    assert "Line 4: Expected an expression" in text
    assert "{% for x in %}" in await refused.text() or "{% for x in %}" in text  # kept
    # A value no mail has, and a lost unsubscribe link: refused too.
    unknown = _bundled("digest", "body.txt").replace("{{ slot('reason') }}", "{{ slot('ssn') }}")
    refused = await client.post("/console/templates/digest", data=_form(csrf, "digest",
                                body_txt=unknown))  # fmt: skip
    assert refused.status == 422
    assert "no value 'ssn' in mails" in visible_text(await refused.text())
    no_way_out = _bundled("digest", "body.txt").replace("{{ slot('unsubscribe_url') }}", "")
    refused = await client.post("/console/templates/digest", data=_form(csrf, "digest",
                                body_txt=no_way_out))  # fmt: skip
    assert "The unsubscribe link is missing" in visible_text(await refused.text())
    # Renders in English but not in Spanish? Undefined only in a branch: still refused.
    undefined = _bundled("digest", "body.txt").replace(
        "{{ slot('greeting') }}", "{{ slot('greeting') }}\n{% if retraction %}{% endif %}"
    )
    refused = await client.post("/console/templates/digest", data=_form(csrf, "digest",
                                body_txt=undefined))  # fmt: skip
    assert "Line 2: 'retraction' is undefined" in visible_text(await refused.text())
    assert await _versions(pool) == []

    saved = await client.post(
        "/console/templates/digest",
        data=_form(csrf, "digest", subject_txt="{{ subject }} (first)"),
        allow_redirects=False,
    )
    assert saved.status == 303, await saved.text()
    second = await client.post(
        "/console/templates/digest",
        data=_form(csrf, "digest", subject_txt="{{ subject }} (second)"),
        allow_redirects=False,
    )
    assert second.status == 303
    one, two = await _versions(pool)
    assert (one["action"], one["editor_email"], two["subject_txt"]) == (
        "saved", ADMIN, "{{ subject }} (second)",
    )  # fmt: skip
    page = await client.get("/console/templates/digest?done=saved")
    html = await page.text()
    assert_no_raw_values(html)
    assert f"version {two['version_id']}, saved by {ADMIN}" in visible_text(html)

    # An older version, viewed and reverted to: a new version with its text.
    old = await client.get(f"/console/templates/digest/versions/{one['version_id']}")
    assert old.status == 200
    assert "(first)" in visible_text(await old.text())
    reverted = await client.post(
        f"/console/templates/digest/versions/{one['version_id']}/revert",
        data={"csrf_token": csrf},
        allow_redirects=False,
    )
    assert reverted.status == 303
    three = (await _versions(pool))[-1]
    assert (three["action"], three["reverted_from"], three["subject_txt"]) == (
        "reverted", one["version_id"], "{{ subject }} (first)",
    )  # fmt: skip
    assert (await in_force(pool)).sources["email/digest/subject.txt"] == "{{ subject }} (first)"
    assert f"Reverted to version {one['version_id']}" in visible_text(
        await (await client.get("/console/templates/digest")).text()
    )

    default = await client.post(
        "/console/templates/digest/default", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert default.status == 303
    assert (await _versions(pool))[-1]["action"] == "default"
    assert "email/digest/subject.txt" not in (await in_force(pool)).sources
    missing = await client.get("/console/templates/digest/versions/999999")
    assert missing.status == 404
    assert (await client.get("/console/templates/newsletter")).status == 404


async def test_editors_cannot_change_templates(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await add_editor(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    csrf = await signed_in(client)
    assert (await client.get("/console/templates/digest")).status == 403
    posted = await client.post("/console/templates/digest", data=_form(csrf, "digest"))
    assert posted.status == 403
    assert await _versions(pool) == []


def _welcome(locale: str | None = None) -> ClaimedDelivery:
    return ClaimedDelivery(
        delivery_id=1, mailing_id=None, subscriber_id=None, kind="welcome",
        recipient="r@example.org", payload=None, item_ids=None, attempts=0,
        created_at=datetime.now(UTC), name=None, key_version=None, plain_text_only=False,
        locale=locale,
    )  # fmt: skip


async def _welcome_subject(composer: Composer) -> str:
    outgoing = await composer.compose(_welcome())
    head = outgoing.data.split(b"\r\n\r\n", 1)[0].decode()
    return next(line for line in head.splitlines() if line.startswith("Subject:"))


async def test_the_console_version_comes_before_the_data_dir_file(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    data_dir = tmp_path / "templates" / "email" / "welcome"
    data_dir.mkdir(parents=True)
    (data_dir / "subject.txt").write_text("From the data dir\n", encoding="utf-8")
    # One long-lived composer, as in a worker; its 30 s reuse of a transactional kind's
    # compiled message is cut to nothing, so each mail reads the versions in force.
    monkeypatch.setattr(compose, "KIND_TTL_SECONDS", -1.0)
    composer = Composer(pool, engine_settings(tmp_path))
    assert await _welcome_subject(composer) == "Subject: From the data dir"

    client = await _admin(pool, aiohttp_client, tmp_path)
    csrf = await signed_in(client, ADMIN)
    listing = visible_text(await (await client.get("/console/templates")).text())
    assert "The file in the data directory" in listing
    page = await client.get("/console/templates/welcome")
    assert "From the data dir" in await page.text()  # the file in force is what is edited

    saved = await client.post(
        "/console/templates/welcome",
        data=_form(csrf, "welcome", subject_txt="From the console"),
        allow_redirects=False,
    )
    assert saved.status == 303
    assert await _welcome_subject(composer) == "Subject: From the console"

    back = await client.post(
        "/console/templates/welcome/default", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert back.status == 303
    assert await _welcome_subject(composer) == "Subject: From the data dir"


async def test_live_preview_as_a_subscriber(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await newsroom(pool)
    await pool.execute(
        "UPDATE subscribers SET name = 'Zoë', locale = 'es' WHERE email = 'reader0@example.org'"
    )
    client = await _admin(pool, aiohttp_client, tmp_path)
    csrf = await signed_in(client, ADMIN)
    draft = _form(csrf, "welcome", subscriber="reader0@example.org",
                  body_txt=_bundled("welcome", "body.txt") + "\nDRAFT-MARK\n")  # fmt: skip
    checked = await client.post(
        "/console/templates/welcome/check", data=draft, headers={"Accept": "application/json"}
    )
    assert checked.status == 200
    shown = await checked.json()
    assert shown["problem"] == ""
    assert "Hola, Zoë:" in shown["text"] and "DRAFT-MARK" in shown["text"]  # her language
    assert shown["subject"].startswith("Bienvenido") or "Bienvenid" in shown["subject"]
    assert "Zoë" in shown["as"] and "Overdose Prevention" in shown["as"]

    frame = await client.post("/console/templates/welcome/preview.html", data=draft)
    assert frame.status == 200
    assert frame.headers["Content-Security-Policy"].startswith("sandbox")
    assert "Zoë" in await frame.text()

    broken = draft | {"subject_txt": "{{ org.name "}
    shown = await (await client.post("/console/templates/welcome/check", data=broken)).json()
    assert shown["field"] == "subject_txt" and shown["problem"].startswith("Line 1:")
    nobody = draft | {"subscriber": "nobody@example.org"}
    shown = await (await client.post("/console/templates/welcome/check", data=nobody)).json()
    assert "No subscriber" in shown["problem"]
    page = await client.get("/console/templates/welcome?subscriber=reader0@example.org")
    html = await page.text()
    assert_no_raw_values(html)
    assert "Hola, Zoë:" in visible_text(html)


async def test_a_digest_goes_out_with_the_edited_template(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, aiohttp_client: ClientFactory,
    tmp_path: Path,
) -> None:  # fmt: skip
    data = await newsroom(pool, readers=2)
    client = await _admin(pool, aiohttp_client, tmp_path)
    csrf = await signed_in(client, ADMIN)
    html_part = _bundled("digest", "body.html").replace(
        "<p>{{ slot('greeting') }}</p>", "<p>{{ slot('greeting') }}</p>\n<p>EDITED-HTML</p>"
    )
    text_part = _bundled("digest", "body.txt").replace(
        "{{ slot('greeting') }}", "{{ slot('greeting') }}\n{% trans %}EDITED-TEXT{% endtrans %}"
    )
    saved = await client.post(
        "/console/templates/digest",
        data=_form(csrf, "digest", subject_txt="[Edited] {{ subject }}", body_txt=text_part,
                   body_html=html_part),
        allow_redirects=False,
    )  # fmt: skip
    assert saved.status == 303, await saved.text()

    settings = engine_settings(tmp_path)
    mailing_id = await digests.create_digest(
        pool, settings, data["series_id"], now=datetime.now(UTC), subject="This week"
    )
    assert mailing_id is not None
    assert await digests.start(pool, settings, mailing_id) == 2
    async with running_worker(pool, db_url, smtp_sink, settings):
        await smtp_sink.wait_for(2)
        await wait_until(
            lambda: pool.fetchval(
                "SELECT status = 'sent' FROM mailings WHERE mailing_id = $1", mailing_id
            )
        )
    for mail in smtp_sink.received:
        message = mail.message
        assert message["Subject"] == "[Edited] This week"
        plain, html = message.get_body(("plain",)), message.get_body(("html",))
        assert plain is not None and html is not None
        assert "EDITED-TEXT" in plain.get_content()
        assert "EDITED-HTML" in html.get_content()


async def test_a_saved_version_that_fails_at_send_time_falls_back_and_says_so(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    # Stored behind the checks' back (an older mailer, a hand edit): it names a value the
    # welcome mail does not have.
    version_id = await pool.fetchval(
        "INSERT INTO mail_template_versions (kind, subject_txt, body_txt, body_html, action, "
        "editor_email) VALUES ('welcome', '{{ missing.value }}', 'x', 'y', 'saved', 'x@y') "
        "RETURNING version_id"
    )
    with caplog.at_level(logging.ERROR, logger="mailer.delivery.compose"):
        subject = await _welcome_subject(Composer(pool, engine_settings(tmp_path)))
    assert subject.startswith("Subject: Welcome to")  # the files' template: the mail goes out
    assert f"welcome template saved in the console (version {version_id})" in caplog.text
    assert "subject.txt, line 1" in caplog.text
    failure = await pool.fetchval(
        "SELECT failure FROM mail_template_versions WHERE version_id = $1", version_id
    )
    assert "'missing' is undefined" in failure

    client = await _admin(pool, aiohttp_client, tmp_path)
    await signed_in(client, ADMIN)
    page = visible_text(await (await client.get("/console/templates/welcome")).text())
    assert "did not compile for a real mail" in page and "'missing' is undefined" in page
    listing = visible_text(await (await client.get("/console/templates")).text())
    assert "did not compile for a mail" in listing
