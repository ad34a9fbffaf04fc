"""The SMTP connection against a real server: dot-stuffing, reuse, refusals."""

from mailer.config import SmtpSettings
from mailer.delivery.smtp import SmtpConnection, SmtpFailure, check_relay
from tests.support.process import free_port
from tests.support.smtp_sink import SmtpSink, start_sink

MESSAGE = (
    b"From: a@example.org\r\nTo: b@example.org\r\nSubject: dots\r\n\r\n"
    b".starts with a dot\r\n..two dots\r\n.\r\nlast line\r\n"
)


async def test_lines_starting_with_a_dot_arrive_intact_over_one_connection(
    smtp_sink: SmtpSink,
) -> None:
    connection = SmtpConnection(SmtpSettings(host=smtp_sink.host, port=smtp_sink.port))
    try:
        for _ in range(3):
            await connection.send("a@example.org", "b@example.org", MESSAGE, smtputf8=False)
    finally:
        await connection.close()
    received = await smtp_sink.wait_for(3)
    assert all(
        r.data.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n") == MESSAGE for r in received
    )


async def test_a_refused_recipient_leaves_the_connection_usable(smtp_sink: SmtpSink) -> None:
    smtp_sink.handler.rcpt_replies["gone@example.org"] = "550 5.1.1 no such user"
    connection = SmtpConnection(SmtpSettings(host=smtp_sink.host, port=smtp_sink.port))
    try:
        failure = None
        try:
            await connection.send("a@example.org", "gone@example.org", MESSAGE, smtputf8=False)
        except SmtpFailure as exc:
            failure = exc
        assert failure is not None
        assert (failure.code, failure.phase, failure.hard_bounce) == (550, "recipient", True)
        await connection.send("a@example.org", "b@example.org", MESSAGE, smtputf8=False)
    finally:
        await connection.close()
    assert smtp_sink.recipients() == ["b@example.org"]


async def test_smtputf8_works_as_the_first_message_of_a_connection(smtp_sink: SmtpSink) -> None:
    # The server's extensions are known only after EHLO, which aiosmtplib sends lazily:
    # checking for SMTPUTF8 before it failed every such message on a fresh connection.
    connection = SmtpConnection(SmtpSettings(host=smtp_sink.host, port=smtp_sink.port))
    try:
        await connection.send("a@example.org", "josé@exämple.org", MESSAGE, smtputf8=True)
    finally:
        await connection.close()
    assert smtp_sink.recipients() == ["josé@exämple.org"]


async def test_a_server_without_smtputf8_fails_such_a_message_for_good() -> None:
    sink = await start_sink(smtputf8=False)
    connection = SmtpConnection(SmtpSettings(host=sink.host, port=sink.port))
    try:
        failure = None
        try:
            await connection.send("a@example.org", "josé@exämple.org", MESSAGE, smtputf8=True)
        except SmtpFailure as exc:
            failure = exc
        assert failure is not None and failure.permanent
        assert "SMTPUTF8" in str(failure)
    finally:
        await connection.close()
        await sink.close()


async def test_check_relay_says_whether_the_relay_takes_a_connection(smtp_sink: SmtpSink) -> None:
    assert await check_relay(SmtpSettings(host=smtp_sink.host, port=smtp_sink.port)) is None
    assert smtp_sink.received == []  # it sends nothing
    closed = await check_relay(SmtpSettings(host="127.0.0.1", port=free_port()), timeout=5)
    assert closed is not None
    assert not closed.permanent
    assert "cannot connect to 127.0.0.1" in closed.reply
    # Credentials for a relay that offers no AUTH: the login cannot work.
    no_auth = SmtpSettings(host=smtp_sink.host, port=smtp_sink.port, username="u", password="pw")
    refused = await check_relay(no_auth)
    assert refused is not None
    assert "AUTH" in refused.reply
