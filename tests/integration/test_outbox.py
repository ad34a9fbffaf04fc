from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import asyncpg
import pytest

from mailer.config import SmtpSettings, load_settings
from mailer.delivery.smtp import SmtpConnection
from mailer.embedded import DevSmtpSink, start_dev_smtp_sink
from mailer.web.app import create_app
from tests.support.helpers import ClientFactory


@pytest.fixture
async def dev_sink(tmp_path: Path):  # type: ignore[no-untyped-def]
    sink = await start_dev_smtp_sink(tmp_path)
    yield sink
    await sink.close()


async def send(sink: DevSmtpSink, subject: str, html: str | None = None) -> None:
    message = EmailMessage()
    message["From"] = "Newsroom <news@example.org>"
    message["To"] = "Zoë Tester <zoe@example.org>"
    message["Subject"] = subject
    message.set_content("Hello in plain text — ünïcode.")
    if html is not None:
        message.add_alternative(html, subtype="html")
    await aiosmtplib.send(message, hostname=sink.host, port=sink.port)


async def test_outbox_lists_and_shows_each_part(
    tmp_path: Path, dev_sink: DevSmtpSink, pool: asyncpg.Pool, aiohttp_client: ClientFactory
) -> None:
    await send(dev_sink, "First mail")
    await send(dev_sink, "Über die Gesundheit", "<p>Hello <b>HTML</b></p><script>alert(1)</script>")
    settings = replace(load_settings({}, dotenv=False), data_dir=tmp_path)
    client = await aiohttp_client(create_app(settings, pool))

    listing = await (await client.get("/dev/outbox.json")).json()
    subjects = [m["subject"] for m in listing["messages"]]
    assert sorted(subjects) == ["First mail", "Über die Gesundheit"]
    entry = next(m for m in listing["messages"] if m["subject"] == "Über die Gesundheit")
    assert entry["recipients"] == "zoe@example.org"

    page = await client.get("/dev/outbox")
    assert page.status == 200
    assert "Über die Gesundheit" in await page.text()

    detail = await client.get(f"/dev/outbox/{entry['key']}")
    assert detail.status == 200
    assert "iframe" in await detail.text()

    html = await client.get(f"/dev/outbox/{entry['key']}/html")
    assert "<b>HTML</b>" in await html.text()
    # The mail's own HTML never runs with the outbox's privileges.
    assert html.headers["Content-Security-Policy"].startswith("sandbox")

    text = await client.get(f"/dev/outbox/{entry['key']}/text")
    assert "ünïcode" in await text.text()
    raw = await client.get(f"/dev/outbox/{entry['key']}/raw")
    assert b"Delivered-To: zoe@example.org" in await raw.read()

    plain_only = next(m for m in listing["messages"] if m["subject"] == "First mail")
    assert (await client.get(f"/dev/outbox/{plain_only['key']}/html")).status == 404

    cleared = await client.post("/dev/outbox/clear", allow_redirects=False)
    assert cleared.status == 303
    assert (await (await client.get("/dev/outbox.json")).json())["messages"] == []


async def test_outbox_takes_and_shows_mail_to_an_international_address(
    tmp_path: Path, dev_sink: DevSmtpSink, pool: asyncpg.Pool, aiohttp_client: ClientFactory
) -> None:
    # Such an address needs SMTPUTF8; without it the development sink refused every such mail.
    data = (
        "From: news@example.org\r\nTo: josé@exämple.org\r\nSubject: Hola\r\n\r\nHi\r\n"
    ).encode()
    connection = SmtpConnection(SmtpSettings(host=dev_sink.host, port=dev_sink.port))
    try:
        await connection.send("news@example.org", "josé@exämple.org", data, smtputf8=True)
    finally:
        await connection.close()
    settings = replace(load_settings({}, dotenv=False), data_dir=tmp_path)
    client = await aiohttp_client(create_app(settings, pool))
    (entry,) = (await (await client.get("/dev/outbox.json")).json())["messages"]
    assert (entry["recipients"], entry["subject"]) == ("josé@exämple.org", "Hola")
    assert (await client.get(f"/dev/outbox/{entry['key']}")).status == 200


async def test_outbox_refuses_unknown_and_malformed_keys(
    tmp_path: Path, pool: asyncpg.Pool, aiohttp_client: ClientFactory
) -> None:
    settings = replace(load_settings({}, dotenv=False), data_dir=tmp_path)
    client = await aiohttp_client(create_app(settings, pool))
    assert (await client.get("/dev/outbox/1234.nothing")).status == 404
    assert (await client.get("/dev/outbox/..%2F..%2Fsecret_key/raw")).status == 404


def test_outbox_lists_newest_first_within_one_second(tmp_path: Path) -> None:
    from mailer.web.outbox import maildir_order

    keys = ["1700000000.M99999P1Q1.host", "1700000000.M100000P1Q2.host", "1699999999.M5P1Q0.h"]
    assert sorted(keys, key=maildir_order, reverse=True) == [keys[1], keys[0], keys[2]]
