from mailer.commands.watch import format_progress
from mailer.delivery.mailings import Progress
from mailer.models import DeliveryStatus, MailingStatus


def test_progress_line_shows_bar_counts_rate_and_eta() -> None:
    counts = dict.fromkeys(DeliveryStatus, 0)
    counts |= {DeliveryStatus.SENT: 600, DeliveryStatus.QUEUED: 300, DeliveryStatus.FAILED: 100}
    progress = Progress(
        mailing_id=1,
        status=MailingStatus.SENDING,
        counts=counts,
        sent_last_minute=600,
        started_at=None,
        finished_at=None,
    )
    line = format_progress(progress, width=10)
    assert line.startswith("[#######---]  70.0% 700/1000 sending |")
    assert "sent 600" in line
    assert "failed 100" in line
    assert "10/s ETA 00:30" in line
