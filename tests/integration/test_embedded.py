"""The README's first command: no database URL, no SMTP URL, everything embedded."""

import signal
from pathlib import Path

import asyncpg
import pytest

from tests.support.process import Service, free_port, http_get, mailer_env


def embedded_url(data_dir: Path) -> str:
    return f"postgresql://postgres@/mailer?host={(data_dir / 'postgres').resolve()}"


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_embedded_defaults_start_and_survive_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = mailer_env(data_dir, MAILER_LISTEN=f"127.0.0.1:{port}")

    first = Service.start(env, port)
    first.wait_ready(timeout=120)
    status, page = http_get(first.base_url + "/dev/outbox")
    assert status == 200
    assert "Development outbox" in page
    conn = await asyncpg.connect(embedded_url(data_dir))
    await conn.execute(
        "INSERT INTO events (type, subject, payload) VALUES ('test.kept', 'test', '{}')"
    )
    await conn.close()
    secret_key = (data_dir / "secret_key").read_text()
    assert first.stop(signal.SIGTERM) == 0, first.output()
    assert "Traceback" not in first.output()

    second = Service.start(env, port)
    second.wait_ready(timeout=120)
    conn = await asyncpg.connect(embedded_url(data_dir))
    kept = await conn.fetchval("SELECT count(*) FROM events WHERE type = 'test.kept'")
    await conn.close()
    assert second.stop(signal.SIGTERM) == 0, second.output()
    assert kept == 1
    assert (data_dir / "secret_key").read_text() == secret_key
    # The embedded server stops with the last process that used it.
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
