"""Crash safety, tested with real processes: SIGKILL mid-send, two workers, a database restart."""

import asyncio
import contextlib
import importlib
import os
import shutil
import signal
import subprocess
import tempfile
import warnings
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from mailer.db import open_pool
from mailer.migrate import apply_migrations
from mailer.resources import migrations_dir
from tests.support import mailings as support_mailings
from tests.support.factories import SECRET, add_subscribers, digest_mailing, statuses, wait_until
from tests.support.process import finish, mailer_env, start_worker, worker_output
from tests.support.smtp_sink import SmtpSink

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def worker_env(tmp_path: Path, db_url: str, sink: SmtpSink, **extra: str) -> dict[str, str]:
    settings = {
        "MAILER_DATABASE_URL": db_url,
        "MAILER_SMTP_URL": f"smtp://{sink.host}:{sink.port}",
        "MAILER_SECRET_KEY": SECRET,
        "MAILER_FROM": "Health News <news@health.example.org>",
        "MAILER_LEASE_SECONDS": "3",
        "MAILER_SMTP_CONCURRENCY": "8",
        "MAILER_CLAIM_BATCH": "100",
    }
    return mailer_env(tmp_path, **{**settings, **extra})


async def all_sent(pool: asyncpg.Pool, mailing_id: int, total: int) -> bool:
    return (await statuses(pool, mailing_id)) == {"sent": total}


async def wait_all_sent(
    pool: asyncpg.Pool, mailing_id: int, total: int, workers: list[subprocess.Popen[str]]
) -> None:
    """Wait for the whole mailing; on timeout, say where the rows are and what workers said."""
    try:
        await wait_until(lambda: all_sent(pool, mailing_id, total), timeout=90)
    except TimeoutError:
        rows = await pool.fetch(
            "SELECT status, count(*) AS n, min(next_attempt_at) AS next_attempt,"
            " max(claimed_until) AS lease, max(attempts) AS attempts, min(last_reply) AS reply"
            " FROM deliveries WHERE mailing_id = $1 AND status <> 'sent' GROUP BY status",
            mailing_id,
        )
        sessions = await pool.fetch(
            "SELECT state, wait_event_type, wait_event, left(query, 120) AS query"
            " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        said = "\n".join(worker_output(w)[-20000:] for w in workers)
        raise AssertionError(
            f"not all sent after 90 s: {[dict(r) for r in rows]}\n"
            f"sessions: {[dict(r) for r in sessions]}\n{said}"
        ) from None


async def test_sigkill_mid_send_loses_nothing_and_duplicates_only_what_was_in_flight(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    total = 3000
    await add_subscribers(pool, total)
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    env = worker_env(tmp_path, db_url, smtp_sink)

    first = start_worker(env)
    await smtp_sink.wait_for(total // 3, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.wait()
    finish(first)
    # What the dead worker held: claimed, maybe handed to SMTP, outcome not recorded.
    in_flight = (await statuses(pool, mailing_id)).get("sending", 0)
    received_at_kill = len(smtp_sink.received)
    assert received_at_kill < total, "the kill came too late to test anything"

    second = start_worker(env)
    try:
        await wait_all_sent(pool, mailing_id, total, [second])
    finally:
        output = finish(second)
    assert "Traceback" not in output
    received = Counter(smtp_sink.recipients())
    assert set(received) == {f"reader{i}@example.org" for i in range(total)}  # nobody lost
    duplicates = sum(received.values()) - total
    assert duplicates <= in_flight, (duplicates, in_flight)
    requeued = await pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE attempts > 1 AND mailing_id = $1", mailing_id
    )
    assert requeued == in_flight


async def test_two_workers_share_the_queue_without_sending_twice(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    total = 2000
    await add_subscribers(pool, total)
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    env = worker_env(tmp_path, db_url, smtp_sink, MAILER_CLAIM_BATCH="20")
    workers = [start_worker(env), start_worker(env)]
    try:
        await wait_all_sent(pool, mailing_id, total, workers)
    finally:
        outputs = [finish(w) for w in workers]
    received = Counter(smtp_sink.recipients())
    assert len(received) == total
    assert set(received.values()) == {1}
    assert all("Traceback" not in out for out in outputs)
    # Both did a share of the work: the queue really was shared.
    shares = await pool.fetch(
        "SELECT claimed_by, count(*) AS n FROM deliveries GROUP BY claimed_by"
    )
    assert len(shares) == 2, shares
    assert min(share["n"] for share in shares) > total // 10


def children_of(pid: int) -> list[int]:
    """Live processes whose parent is `pid` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:  # fields: state, ppid, ...
                found.append(int(stat.parent.name))
    return found


async def test_mailer_workers_runs_child_processes_that_share_the_work_and_stop_with_it(
    pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    total = 2000
    await add_subscribers(pool, total)
    mailing_id = await digest_mailing(pool)
    await support_mailings.start_sending(pool, mailing_id)
    smtp_sink.handler.delay = 0.02  # at most 400 mails/s a process: the child is in time
    env = worker_env(tmp_path, db_url, smtp_sink, MAILER_WORKERS="2", MAILER_CLAIM_BATCH="20")
    parent = start_worker(env)
    try:
        await wait_all_sent(pool, mailing_id, total, [parent])
        children = children_of(parent.pid)
        assert len(children) == 1, children  # MAILER_WORKERS=2: itself and one child
    finally:
        output = finish(parent)
    assert parent.returncode == 0, output
    assert "Traceback" not in output
    workers = await pool.fetchval(
        "SELECT count(DISTINCT claimed_by) FROM deliveries WHERE mailing_id = $1", mailing_id
    )
    assert workers == 2  # both processes sent a share
    assert len(Counter(smtp_sink.recipients())) == total
    assert not any(Path(f"/proc/{pid}").exists() for pid in children)  # stopped with it


# ---------------------------------------------------------------- database restart


class OwnPostgres:
    """A PostgreSQL of this test's own (pgserver's binaries), so it can be restarted."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.server: Any = None

    async def start(self) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

        self.server = await asyncio.to_thread(pgserver.get_server, self.pgdata, cleanup_mode="stop")
        return str(self.server.get_uri("postgres"))

    def pg_ctl(self, *args: str) -> None:
        pg_ctl = importlib.import_module("pgserver._commands").pg_ctl
        pg_ctl(list(args), pgdata=self.pgdata, user=self.server.system_user)

    async def restart(self, outage: float) -> None:
        await asyncio.to_thread(self.pg_ctl, "-w", "-m", "fast", "stop")
        await asyncio.sleep(outage)
        options = ["-o", '-h ""', "-o", f"-k {self.pgdata}", "-l", str(self.pgdata / "log")]
        await asyncio.to_thread(self.pg_ctl, "-w", *options, "start")

    async def stop(self) -> None:
        """Stop the server we restarted ourselves (pgserver only knows the first postmaster),
        then let pgserver release its handle."""
        if self.server is None:
            return
        if (self.pgdata / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
                await asyncio.to_thread(self.pg_ctl, "-w", "-m", "fast", "stop")
        await asyncio.to_thread(self.server.cleanup)


@pytest.fixture
async def own_postgres() -> AsyncIterator[tuple[OwnPostgres, str]]:
    # Not under pytest's tmp_path: as root, pgserver runs PostgreSQL as another user and
    # opens the parent folders to it, and any other pytest run on the machine closes
    # /tmp/pytest-of-root again (0o700) when it starts: initdb then finds no way in.
    folder = Path(tempfile.mkdtemp(prefix="mailer-own-pg-"))
    own = OwnPostgres(folder / "pg")
    try:
        url = await own.start()
        conn = await asyncpg.connect(url)
        await apply_migrations(conn, migrations_dir())
        await conn.close()
        yield own, url
    finally:
        await own.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def test_workers_reconnect_after_a_database_restart(
    own_postgres: tuple[OwnPostgres, str], smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    own, url = own_postgres
    total = 2000
    pool = await open_pool(url, max_size=3)
    try:
        await add_subscribers(pool, total)
        mailing_id = await digest_mailing(pool)
        await support_mailings.start_sending(pool, mailing_id)
        await pool.close()
        env = worker_env(tmp_path, url, smtp_sink, MAILER_LEASE_SECONDS="20")
        worker = start_worker(env)
        try:
            await smtp_sink.wait_for(300, timeout=60)
            await own.restart(outage=2.0)
            pool = await open_pool(url, max_size=3)
            await wait_all_sent(pool, mailing_id, total, [worker])
        finally:
            output = finish(worker)
        assert worker.returncode == 0, output
        received = Counter(smtp_sink.recipients())
        assert len(received) == total  # every recipient got the mail
        # The outage was shorter than the lease: no row was requeued, so none went twice.
        assert set(received.values()) == {1}
        assert "claiming deliveries failed" in output or "recording" in output
    finally:
        await pool.close()
    assert os.path.exists(own.pgdata)
