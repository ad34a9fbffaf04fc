"""One deadline per SMTP transaction: a server that stops answering costs one attempt."""

import time

import pytest

from mailer.config import SmtpSettings
from mailer.delivery.smtp import SmtpConnection, SmtpFailure
from tests.support.smtp_sink import SmtpSink

MESSAGE = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: slow\r\n\r\nbody\r\n"


async def test_a_server_that_stops_answering_fails_the_attempt_and_is_not_reused(
    smtp_sink: SmtpSink,
) -> None:
    connection = SmtpConnection(SmtpSettings(host=smtp_sink.host, port=smtp_sink.port), timeout=0.5)
    try:
        await connection.send("a@example.org", "b@example.org", MESSAGE, smtputf8=False)
        smtp_sink.handler.delay = 3.0  # DATA is answered long after the deadline
        started = time.monotonic()
        with pytest.raises(SmtpFailure, match=r"no reply within 0\.5 s") as failure:
            await connection.send("a@example.org", "c@example.org", MESSAGE, smtputf8=False)
        assert time.monotonic() - started < 2.5
        assert not failure.value.permanent
        smtp_sink.handler.delay = 0.0
        # A new connection: the late reply to the abandoned one is never taken for this one.
        await connection.send("a@example.org", "d@example.org", MESSAGE, smtputf8=False)
    finally:
        await connection.close()
    await smtp_sink.wait_for(2)
    assert "d@example.org" in smtp_sink.recipients()
