import pytest

from mailer.delivery.smtp import SmtpFailure


@pytest.mark.parametrize(
    ("code", "enhanced", "phase", "permanent", "hard"),
    [
        (550, "5.1.1", "recipient", True, True),  # no such user
        (550, None, "recipient", True, True),  # bare 550 to RCPT
        (552, "5.2.1", "recipient", True, True),  # mailbox disabled
        (550, "5.7.1", "recipient", True, False),  # policy: not the address's fault
        (554, None, "data", True, False),  # content rejected
        (451, "4.3.0", "data", False, False),
        (421, None, "connection", False, False),
    ],
)
def test_hard_bounce_classification(
    code: int, enhanced: str | None, phase: str, permanent: bool, hard: bool
) -> None:
    failure = SmtpFailure("x", permanent=permanent, code=code, phase=phase, enhanced=enhanced)
    assert failure.hard_bounce is hard
