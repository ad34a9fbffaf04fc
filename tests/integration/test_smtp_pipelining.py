"""SMTP PIPELINING (RFC 2920): MAIL, RCPT and DATA in one write where the server offers it,
with every refusal reported as in the lock-step path, which servers without it still get."""

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mailer.config import SmtpSettings
from mailer.delivery.smtp import PipeliningProtocol, SmtpConnection, SmtpFailure
from tests.support.process import free_port
from tests.support.smtp_sink import SmtpSink, start_sink

MESSAGE = (
    b"From: a@example.org\r\nTo: b@example.org\r\nSubject: pipelined\r\n\r\n"
    b".starts with a dot\r\nbody\r\n"
)
SMTP_SINK = Path("/usr/sbin/smtp-sink")  # Postfix's


@pytest.fixture(params=[True, False], ids=["pipelining", "lock-step"])
async def sink(request: pytest.FixtureRequest) -> AsyncIterator[SmtpSink]:
    server = await start_sink(pipelining=request.param)
    yield server
    await server.close()


def connect(sink: SmtpSink) -> SmtpConnection:
    return SmtpConnection(SmtpSettings(host=sink.host, port=sink.port))


async def refusal(connection: SmtpConnection, sender: str, recipient: str) -> SmtpFailure:
    with pytest.raises(SmtpFailure) as failure:
        await connection.send(sender, recipient, MESSAGE, smtputf8=False)
    return failure.value


async def test_the_group_is_sent_where_offered_and_messages_arrive_intact(sink: SmtpSink) -> None:
    connection = connect(sink)
    try:
        for i in range(5):
            await connection.send("a@example.org", f"r{i}@example.org", MESSAGE, smtputf8=False)
        client = connection._client
        assert client is not None and isinstance(client.protocol, PipeliningProtocol)
        assert client.supports_extension("pipelining") == sink.handler.pipelining
    finally:
        await connection.close()
    assert len(sink.handler.offered) == 1  # one connection for the five
    assert ("PIPELINING" in sink.handler.offered[0]) == sink.handler.pipelining
    received = await sink.wait_for(5)
    assert [r.rcpt_tos for r in received] == [[f"r{i}@example.org"] for i in range(5)]
    assert all(r.data.replace(b"\r\n", b"\n") == MESSAGE.replace(b"\r\n", b"\n") for r in received)


@pytest.mark.parametrize(
    ("reply", "permanent", "hard_bounce"),
    [("550 5.1.1 no such user", True, True), ("450 4.2.1 mailbox busy", False, False)],
)
async def test_a_refused_recipient_fails_that_mail_only(
    sink: SmtpSink, reply: str, permanent: bool, hard_bounce: bool
) -> None:
    sink.handler.rcpt_replies["gone@example.org"] = reply
    connection = connect(sink)
    try:
        await connection.send("a@example.org", "first@example.org", MESSAGE, smtputf8=False)
        failure = await refusal(connection, "a@example.org", "gone@example.org")
        assert (failure.code, failure.phase) == (int(reply[:3]), "recipient")
        assert (failure.permanent, failure.hard_bounce) == (permanent, hard_bounce)
        assert failure.enhanced == reply[4:9]
        # The same connection goes on: the DATA after the refusal was answered and reset.
        await connection.send("a@example.org", "next@example.org", MESSAGE, smtputf8=False)
    finally:
        await connection.close()
    assert sink.recipients() == ["first@example.org", "next@example.org"]
    assert len(sink.handler.offered) == 1


async def test_a_refused_sender_fails_the_mail_without_blaming_the_address(
    sink: SmtpSink,
) -> None:
    sink.handler.mail_replies["blocked@example.org"] = "553 5.7.1 sender not allowed"
    connection = connect(sink)
    try:
        failure = await refusal(connection, "blocked@example.org", "b@example.org")
        assert (failure.code, failure.phase, failure.enhanced) == (553, "sender", "5.7.1")
        assert failure.permanent and not failure.hard_bounce
        await connection.send("a@example.org", "c@example.org", MESSAGE, smtputf8=False)
    finally:
        await connection.close()
    received = await sink.wait_for(1)
    assert [(r.mail_from, r.rcpt_tos) for r in received] == [("a@example.org", ["c@example.org"])]
    assert len(sink.handler.offered) == 1


async def test_a_recipient_domain_that_closes_with_421_fails_the_recipient_and_reconnects(
    sink: SmtpSink,
) -> None:
    sink.handler.rcpt_replies["busy@example.org"] = "421 4.7.0 try again later"
    connection = connect(sink)
    try:
        failure = await refusal(connection, "a@example.org", "busy@example.org")
        assert (failure.code, failure.phase, failure.permanent) == (421, "recipient", False)
        assert connection._client is None  # never reused after a 421
        await connection.send("a@example.org", "b@example.org", MESSAGE, smtputf8=False)
    finally:
        await connection.close()
    assert sink.recipients() == ["b@example.org"]
    assert len(sink.handler.offered) == 2


async def test_a_refused_message_and_a_smtputf8_recipient(sink: SmtpSink) -> None:
    sink.handler.data_replies.append("554 5.6.0 content refused")
    connection = connect(sink)
    try:
        failure = await refusal(connection, "a@example.org", "b@example.org")
        assert (failure.code, failure.phase, failure.permanent) == (554, "data", True)
        await connection.send("a@example.org", "josé@exämple.org", MESSAGE, smtputf8=True)
    finally:
        await connection.close()
    assert sink.recipients() == ["josé@exämple.org"]


async def test_an_address_cannot_add_a_command(sink: SmtpSink) -> None:
    # As aiosmtplib's mail() and rcpt(): an address is parsed, and one that cannot stand
    # on a command line is refused; nothing after a line break becomes a command.
    connection = connect(sink)
    try:
        with pytest.raises(ValueError, match="not permitted"):
            await connection.send("a@example.org", "b c@example.org", MESSAGE, smtputf8=False)
        await connection.send(
            "a@example.org", "b@example.org>\r\nRCPT TO:<c@example.org", MESSAGE, smtputf8=False
        )
    finally:
        await connection.close()
    assert sink.recipients() == ["b@example.org"]


async def listening(port: int) -> None:
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise AssertionError(f"nothing listens on port {port}")


@pytest.mark.skipif(not SMTP_SINK.exists(), reason="needs Postfix's smtp-sink (bench/delivery)")
async def test_postfix_smtp_sink_takes_pipelined_groups() -> None:
    """Postfix's smtp-sink offers PIPELINING and answers a group in one write."""
    dumps = Path(tempfile.mkdtemp(prefix="mailer-sink-"))
    dumps.chmod(0o777)  # smtp-sink writes as nobody
    port = free_port()
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    process = subprocess.Popen(
        [str(SMTP_SINK), *user, "-d", f"{dumps}/%M.", f"127.0.0.1:{port}", "10"]
    )
    try:
        await listening(port)
        connection = SmtpConnection(SmtpSettings(host="127.0.0.1", port=port))
        try:
            for i in range(20):
                await connection.send("a@example.org", f"r{i}@example.org", MESSAGE, smtputf8=False)
            client = connection._client
            assert client is not None and client.supports_extension("pipelining")
        finally:
            await connection.close()
        for _ in range(50):
            files = [p for p in dumps.iterdir() if p.is_file()]
            if len(files) >= 20:
                break
            await asyncio.sleep(0.1)
        texts = [p.read_bytes() for p in files]
        assert len(texts) == 20
        assert all(b".starts with a dot\n" in text and b"body\n" in text for text in texts)
        assert {f"r{i}@example.org".encode() in b"".join(texts) for i in range(20)} == {True}
    finally:
        process.terminate()
        process.wait(timeout=5)
        shutil.rmtree(dumps, ignore_errors=True)
