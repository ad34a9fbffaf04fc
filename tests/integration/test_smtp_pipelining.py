"""SMTP PIPELINING (mailer.delivery.smtp_pipeline) against a real server that offers it:
the same messages arrive, and refusals end exactly as they do one command at a time."""

import asyncio
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailer.config import SmtpSecurity, SmtpSettings
from mailer.delivery.smtp import SmtpConnection, SmtpFailure
from mailer.delivery.smtp_pipeline import quoted
from tests.support.smtp_sink import RecordingHandler, SmtpSink, start_sink

MESSAGE = (
    b"From: a@example.org\r\nTo: b@example.org\r\nSubject: dots\r\n\r\n"
    b".starts with a dot\r\n..two dots\r\n.\r\nlast line\r\n"
)


@pytest.fixture
async def piping_sink() -> AsyncIterator[SmtpSink]:
    sink = await start_sink(pipelining=True)
    yield sink
    await sink.close()


def connect(sink: SmtpSink) -> SmtpConnection:
    return SmtpConnection(SmtpSettings(host=sink.host, port=sink.port))


async def failure_of(connection: SmtpConnection, sender: str, recipient: str) -> SmtpFailure:
    with pytest.raises(SmtpFailure) as caught:
        await connection.send(sender, recipient, MESSAGE, smtputf8=False)
    return caught.value


async def test_messages_arrive_intact_over_one_pipelined_connection(piping_sink: SmtpSink) -> None:
    connection = connect(piping_sink)
    try:
        for n in range(5):
            await connection.send("a@example.org", f"b{n}@example.org", MESSAGE, smtputf8=False)
            assert connection._pipe is not None  # the pipelined session, not aiosmtplib's
        await connection.send("a@example.org", "josé@exämple.org", MESSAGE, smtputf8=True)
    finally:
        await connection.close()
    received = await piping_sink.wait_for(6)
    assert [r.rcpt_tos for r in received] == [[f"b{n}@example.org"] for n in range(5)] + [
        ["josé@exämple.org"]
    ]
    assert all(
        r.data.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n") == MESSAGE for r in received
    )


async def test_a_server_without_pipelining_gets_one_command_at_a_time(smtp_sink: SmtpSink) -> None:
    connection = connect(smtp_sink)
    try:
        await connection.send("a@example.org", "b@example.org", MESSAGE, smtputf8=False)
        assert connection._pipe is None
    finally:
        await connection.close()
    assert smtp_sink.recipients() == ["b@example.org"]


async def test_refusals_fail_one_message_and_leave_the_connection_usable(
    piping_sink: SmtpSink,
) -> None:
    handler = piping_sink.handler
    handler.rcpt_replies["gone@example.org"] = "550 5.1.1 no such user"
    handler.rcpt_replies["later@example.org"] = "450 4.2.0 mailbox busy"
    connection = connect(piping_sink)
    try:
        gone = await failure_of(connection, "a@example.org", "gone@example.org")
        assert (gone.code, gone.phase, gone.hard_bounce, gone.permanent) == (
            550,
            "recipient",
            True,
            True,
        )
        later = await failure_of(connection, "a@example.org", "later@example.org")
        assert (later.code, later.phase, later.permanent) == (450, "recipient", False)
        handler.data_replies.append("554 5.7.1 looks like spam")
        spam = await failure_of(connection, "a@example.org", "c@example.org")
        assert (spam.code, spam.phase, spam.permanent, spam.hard_bounce) == (
            554,
            "data",
            True,
            False,
        )
        handler.mail_replies["odd@example.org"] = "553 5.1.8 sender refused"
        odd = await failure_of(connection, "odd@example.org", "d@example.org")
        assert (odd.code, odd.phase, odd.permanent) == (553, "sender", True)
        await connection.send("a@example.org", "b@example.org", MESSAGE, smtputf8=False)
    finally:
        await connection.close()
    assert piping_sink.recipients() == ["b@example.org"]


async def test_a_dropped_connection_is_a_temporary_failure_then_reconnects(
    piping_sink: SmtpSink,
) -> None:
    piping_sink.handler.drops = 1
    connection = connect(piping_sink)
    try:
        lost = await failure_of(connection, "a@example.org", "b@example.org")
        assert not lost.permanent and lost.phase == "connection"
        await connection.send("a@example.org", "b@example.org", MESSAGE, smtputf8=False)
    finally:
        await connection.close()
    assert piping_sink.recipients() == ["b@example.org"]


@pytest.mark.parametrize(
    "address",
    [
        "a@example.org",
        "bounces+12345-abcdefgh@bounce.example.org",
        "First.Last@Example.ORG",
        "o'neil@example.ie",
        "josé@exämple.org",
        "x_y-z=1/2!#$%&*?^`{|}~@sub.example.co.uk",
        "Reader <r@example.org>",
        '"quoted local"@example.org',
        "r@[192.0.2.1]",
        "no-at-sign",
    ],
)
def test_quoting_matches_aiosmtplib(address: str) -> None:
    assert quoted(address) == aiosmtplib.email.quote_address(address)


def self_signed(tmp_path: Path) -> Path:
    """A certificate for 127.0.0.1, signed by itself (the test trusts it as its CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    pem = tmp_path / "cert.pem"
    pem.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pem


async def test_pipelining_after_starttls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A relay on port 587 says STARTTLS, then PIPELINING in its second EHLO: the pipelined
    # session then runs over the TLS transport.
    pem = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))  # the client's default context trusts it
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(pem)
    handler = RecordingHandler(pipelining=True)
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler, hostname="tls-sink", tls_context=server_tls), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    settings = SmtpSettings(host="127.0.0.1", port=port, security=SmtpSecurity.STARTTLS)
    connection = SmtpConnection(settings)
    try:
        for n in range(3):
            await connection.send("a@example.org", f"b{n}@example.org", MESSAGE, smtputf8=False)
            assert connection._pipe is not None
        handler.rcpt_replies["gone@example.org"] = "550 5.1.1 no such user"
        gone = await failure_of(connection, "a@example.org", "gone@example.org")
        assert (gone.code, gone.phase) == (550, "recipient")
        await connection.send("a@example.org", "b3@example.org", MESSAGE, smtputf8=False)
    finally:
        await connection.close()
        server.close()
        await server.wait_closed()
    assert [r.rcpt_tos for r in handler.received] == [[f"b{n}@example.org"] for n in range(4)]
