"""Real DSNs (RFC 3464) and ARF complaint reports (RFC 5965), built with the standard
library's email package the way receiving MTAs and feedback loops build them."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid


def original_message(
    *,
    to: str,
    message_id: str,
    return_path: str | None = None,
    unsubscribe_url: str | None = None,
) -> Message:
    """The mail as the recipient's system received it (as a report quotes it)."""
    original = MIMEText("This week in public health ...", "plain")
    if return_path is not None:
        original["Return-Path"] = f"<{return_path}>"
    original["From"] = "Health News <news@health.example.org>"
    original["To"] = to
    original["Subject"] = "Weekly public health news"
    original["Message-ID"] = message_id
    original["Date"] = format_datetime(datetime.now(UTC))
    if unsubscribe_url is not None:
        original["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    return original


def _block(fields: list[tuple[str, str]]) -> Message:
    block = Message()
    for name, value in fields:
        block[name] = value
    return block


def dsn(
    *,
    to: str,
    recipient: str,
    status: str | None = "5.1.1",
    action: str = "failed",
    diagnostic: str = "smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown",
    original: Message | None = None,
) -> bytes:
    """A Postfix-style DSN sent to `to` (the envelope sender of the failed mail)."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "MAILER-DAEMON@mx.example.net (Mail Delivery System)"
    report["To"] = to
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Date"] = format_datetime(datetime.now(UTC))
    report["Message-ID"] = make_msgid(domain="mx.example.net")
    report["Auto-Submitted"] = "auto-replied"
    report.attach(
        MIMEText(
            "This is the mail system at host mx.example.net.\n\n"
            "I'm sorry to have to inform you that your message could not\n"
            "be delivered to one or more recipients.\n",
            "plain",
        )
    )
    status_part = MIMEBase("message", "delivery-status")
    status_part.attach(
        _block(
            [
                ("Reporting-MTA", "dns; mx.example.net"),
                ("Arrival-Date", format_datetime(datetime.now(UTC))),
            ]
        )
    )
    per_recipient = [
        ("Final-Recipient", f"rfc822; {recipient}"),
        ("Original-Recipient", f"rfc822;{recipient}"),
        ("Action", action),
    ]
    if status is not None:
        per_recipient.append(("Status", status))
    per_recipient += [
        ("Remote-MTA", "dns; mail.example.com"),
        ("Diagnostic-Code", diagnostic.format(rcpt=recipient)),
    ]
    status_part.attach(_block(per_recipient))
    report.attach(status_part)
    if original is not None:
        headers = MIMEText("".join(f"{k}: {v}\n" for k, v in original.items()), "rfc822-headers")
        report.attach(headers)
    return report.as_bytes()


def arf(
    *,
    to: str,
    original: Message,
    feedback_type: str = "abuse",
    rcpt: str | None = None,
) -> bytes:
    """An ARF report as a mailbox provider's feedback loop sends it."""
    report = MIMEMultipart("report", report_type="feedback-report")
    report["From"] = "Feedback Loop <fbl@mailbox.example.com>"
    report["To"] = to
    report["Subject"] = "FW: Weekly public health news"
    report["Date"] = format_datetime(datetime.now(UTC))
    report["Message-ID"] = make_msgid(domain="mailbox.example.com")
    report.attach(
        MIMEText(
            "This is an email abuse report for an email message received from IP "
            "192.0.2.1 on " + format_datetime(datetime.now(UTC)) + ".\n",
            "plain",
        )
    )
    fields = [
        ("Feedback-Type", feedback_type),
        ("User-Agent", "ExampleFBL/1.0"),
        ("Version", "1"),
        ("Original-Mail-From", "<bounces@health.example.org>"),
        ("Arrival-Date", format_datetime(datetime.now(UTC))),
        ("Source-IP", "192.0.2.1"),
        ("Reported-Domain", "health.example.org"),
    ]
    if rcpt is not None:
        fields.append(("Original-Rcpt-To", f"<{rcpt}>"))
    feedback = MIMEBase("message", "feedback-report")
    feedback.set_payload("".join(f"{k}: {v}\r\n" for k, v in fields))
    report.attach(feedback)
    report.attach(MIMEMessage(original))
    return report.as_bytes()
