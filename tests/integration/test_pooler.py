"""mailer behind PgBouncer in transaction mode (how managed PostgreSQL is usually reached):
migrate, serve, a signup over HTTP with its confirmation, a digest send, all through the
pooler; and the sentences a misconfigured pooler setting gets."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from pathlib import Path

import asyncpg
import pytest

from mailer.db import behind_transaction_pooler, open_pool
from mailer.signatures import sign
from tests.support.newsroom import add_item, make_series, make_topics
from tests.support.pg import PgServer
from tests.support.pgbouncer import pgbouncer
from tests.support.process import Service, free_port, mailer_env, run_mailer
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.slow
SECRET = "pooler-webhook-secret-0123456789"


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 -- loopback
        return int(response.status)


async def _mail_to(sink: SmtpSink, address: str, count: int, timeout: float = 20) -> list[str]:
    """The text of the first `count` mails to `address`, waiting for them."""
    async with asyncio.timeout(timeout):
        while True:
            mails = [m for m in sink.received if address in m.rcpt_tos]
            if len(mails) >= count:
                return [m.data.decode(errors="replace") for m in mails]
            sink.handler.arrived.clear()
            await sink.handler.arrived.wait()


async def test_migrate_serve_signup_and_a_digest_through_pgbouncer(
    tmp_path: Path, pg_server: PgServer, smtp_sink: SmtpSink
) -> None:
    direct = await pg_server.empty()
    with pgbouncer(direct) as pooled:
        assert await behind_transaction_pooler(pooled)
        assert not await behind_transaction_pooler(direct)
        port = free_port()
        env = mailer_env(
            tmp_path,
            MAILER_DATABASE_URL=pooled,  # MAILER_DATABASE_POOLER left at `detect`
            MAILER_DATABASE_POOL_SIZE="6",
            MAILER_SMTP_URL=f"smtp://{smtp_sink.host}:{smtp_sink.port}",
            MAILER_LISTEN=f"127.0.0.1:{port}",
            MAILER_WEBHOOK_SECRETS=SECRET,
        )
        migrated = await asyncio.to_thread(run_mailer, ["migrate"], env)
        assert migrated.returncode == 0, migrated.stderr
        assert "transaction mode (detected" in migrated.stderr

        # Newsroom content, written through the pooler by several connections at once.
        pool = await open_pool(pooled, max_size=6, statement_cache=False)
        try:
            topics = await make_topics(pool)
            series_id = await make_series(pool)
            await pool.execute(
                "UPDATE series SET is_default = true WHERE series_id = $1", series_id
            )
            await asyncio.gather(
                *(
                    add_item(pool, f"Naloxone update {n}", [topics["overdose-prevention"]])
                    for n in range(4)
                )
            )
        finally:
            await pool.close()

        service = Service.start(
            env | {"MAILER_DATABASE_POOLER": "transaction"}, port, log_file=tmp_path / "out.log"
        )
        try:
            await asyncio.to_thread(service.wait_ready)
            body = json.dumps(
                {
                    "email": "reader@example.org",
                    "topics": ["overdose-prevention"],
                    "consent_text": "Yes, the weekly digest",
                }
            ).encode()
            headers = {"Content-Type": "application/json", "Mailer-Signature": sign(SECRET, body)}
            status = await asyncio.to_thread(
                _post, f"{service.base_url}/webhooks/signup", body, headers
            )
            assert status == 202
            (confirmation,) = await _mail_to(smtp_sink, "reader@example.org", 1)
            token = re.search(r"/confirm/([A-Za-z0-9_.=-]+)", confirmation.replace("=\r\n", ""))
            assert token is not None, confirmation
            confirmed = await asyncio.to_thread(
                _post, f"{service.base_url}/confirm/{token.group(1)}", b"", {}
            )
            assert confirmed == 200

            created = await asyncio.to_thread(
                run_mailer, ["digests", "create", "--series", str(series_id)], env
            )
            assert created.returncode == 0, created.stderr
            digest_id = created.stdout.split()[-1]
            sent = await asyncio.to_thread(run_mailer, ["digests", "send-now", digest_id], env)
            assert sent.returncode == 0, sent.stderr
            assert "sending to 1 recipients" in sent.stdout
            try:
                mails = await _mail_to(smtp_sink, "reader@example.org", 2)
            except TimeoutError:
                raise AssertionError(service.output_so_far()) from None
            assert "Naloxone update" in mails[1]
        finally:
            code = await asyncio.to_thread(service.stop)
        output = service.output()
        assert code == 0, output
        assert "already exists" not in output and "Traceback" not in output, output
    direct_conn = await asyncpg.connect(direct)
    try:
        statuses = await direct_conn.fetch("SELECT status, count(*) FROM deliveries GROUP BY 1")
    finally:
        await direct_conn.close()
    assert {row["status"]: row["count"] for row in statuses} == {"sent": 2}


async def test_pooler_settings_that_cannot_work_are_one_sentence(
    tmp_path: Path, pg_server: PgServer, db_url: str
) -> None:
    with pgbouncer(db_url) as pooled:
        env = mailer_env(tmp_path, MAILER_DATABASE_URL=pooled, MAILER_DATABASE_POOLER="transaction")
        port = free_port()  # nothing listens there
        unreachable = re.sub(r"@[^/]+/", f"@127.0.0.1:{port}/", db_url)
        cases = {
            "MAILER_DATABASE_LISTEN_URL: cannot reach the database at 127.0.0.1": {
                "MAILER_DATABASE_LISTEN_URL": unreachable
            },
            "goes through a pooler in transaction mode": {"MAILER_DATABASE_LISTEN_URL": pooled},
            "MAILER_DATABASE_POOL_SIZE must be between 1 and 1000": {
                "MAILER_DATABASE_POOL_SIZE": "0"
            },
            "MAILER_DATABASE_POOLER must be 'none', 'transaction' or 'detect'": {
                "MAILER_DATABASE_POOLER": "session"
            },
        }
        for expected, extra in cases.items():
            result = await asyncio.to_thread(run_mailer, ["serve", "--role", "worker"], env | extra)
            assert result.returncode == 2, (expected, result.stderr)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and expected in lines[0], (expected, result.stderr)
    embedded = await asyncio.to_thread(
        run_mailer, ["config"], mailer_env(tmp_path, MAILER_DATABASE_POOLER="transaction")
    )
    assert embedded.returncode == 2
    assert "MAILER_DATABASE_POOLER=transaction needs MAILER_DATABASE_URL" in embedded.stderr
