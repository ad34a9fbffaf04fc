"""The duplicate bound, measured from outside: a worker process never has more than
2 x MAILER_CLAIM_BATCH rows `sending` (claimed, outcome not written), and after a SIGKILL the
mails sent twice stay within that too. Small batches, many SMTP connections: the hold, not
the connections, must be what limits."""

import asyncio
import signal
import time
from collections import Counter
from pathlib import Path

import asyncpg
import pytest

from tests.support import mailings as support_mailings
from tests.support.factories import SECRET, add_subscribers, digest_mailing, statuses
from tests.support.process import finish, mailer_env, start_worker
from tests.support.smtp_sink import SmtpSink

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

BATCH = 5
BOUND = 2 * BATCH


def env_for(tmp_path: Path, db_url: str, sink: SmtpSink) -> dict[str, str]:
    return mailer_env(
        tmp_path,
        MAILER_DATABASE_URL=db_url,
        MAILER_SMTP_URL=f"smtp://{sink.host}:{sink.port}",
        MAILER_SECRET_KEY=SECRET,
        MAILER_FROM="Health News <news@health.example.org>",
        MAILER_LEASE_SECONDS="3",
        MAILER_SMTP_CONCURRENCY="16",  # more connections than the hold allows rows
        MAILER_CLAIM_BATCH=str(BATCH),
    )


async def sending(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'sending'")
    return count


# A slow server (rows wait for a connection) and a fast one (accepted mails wait for their
# outcome to be written).
@pytest.mark.parametrize("smtp_delay", [0.01, 0.0])
async def test_a_worker_never_holds_more_than_twice_the_batch(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path, smtp_delay: float
) -> None:
    total = 600
    await add_subscribers(pool, total)
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    smtp_sink.handler.delay = smtp_delay
    worker = start_worker(env_for(tmp_path, db_url, smtp_sink))
    samples: list[int] = []
    try:
        deadline = time.monotonic() + 90
        while (await statuses(pool, mailing_id)) != {"sent": total}:
            assert time.monotonic() < deadline, await statuses(pool, mailing_id)
            samples.append(await sending(pool))
            await asyncio.sleep(0.002)
    finally:
        output = finish(worker)
    assert "Traceback" not in output
    assert len(samples) > 100 and max(samples) > 0  # it was measured while sending
    assert max(samples) <= BOUND, (max(samples), Counter(samples).most_common(5))
    assert len(Counter(smtp_sink.recipients())) == total


async def test_sigkill_sends_at_most_twice_the_batch_twice(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    total = 1000
    await add_subscribers(pool, total)
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    # A server that takes a moment over DATA: the mails in its hands when the worker dies
    # are received (it answers 250 to nobody) and, never recorded, sent again.
    smtp_sink.handler.delay = 0.01
    env = env_for(tmp_path, db_url, smtp_sink)
    first = start_worker(env)
    await smtp_sink.wait_for(total // 3, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.wait()
    finish(first)
    # Rows still `sending`: the hold, plus a claim the database may have committed after the
    # kill (never sent, so no duplicate).
    held = await sending(pool)
    assert len(smtp_sink.received) < total, "the kill came too late to test anything"

    second = start_worker(env)
    try:
        deadline = time.monotonic() + 90
        while (await statuses(pool, mailing_id)) != {"sent": total}:
            assert time.monotonic() < deadline, await statuses(pool, mailing_id)
            await asyncio.sleep(0.1)
    finally:
        output = finish(second)
    assert "Traceback" not in output
    received = Counter(smtp_sink.recipients())
    assert set(received) == {f"reader{i}@example.org" for i in range(total)}  # nobody lost
    duplicates = sum(received.values()) - total
    assert duplicates <= BOUND, (duplicates, held)
