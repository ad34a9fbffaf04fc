import signal
import socket
from pathlib import Path

import asyncpg

from tests.support.process import Service, free_port, http_get, mailer_env, run_mailer


def assert_one_clear_line(stderr: str, fragment: str) -> None:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("mailer:")]
    assert len(lines) == 1, stderr
    assert fragment in lines[0], stderr


def test_help_reads_well(tmp_path: Path) -> None:
    result = run_mailer(["--help"], mailer_env(tmp_path))
    assert result.returncode == 0
    for command in ("serve", "migrate", "config"):
        assert command in result.stdout
    serve_help = run_mailer(["serve", "--help"], mailer_env(tmp_path)).stdout
    assert "--role" in serve_help


def test_config_errors_exit_2_with_one_line_each(tmp_path: Path) -> None:
    env = mailer_env(tmp_path, MAILER_ENV="production")
    result = run_mailer(["serve"], env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith("mailer: configuration error: ") for line in lines)
    assert any("MAILER_SECRET_KEY" in line for line in lines)


def test_malformed_url_exits_2(tmp_path: Path) -> None:
    result = run_mailer(["serve"], mailer_env(tmp_path, MAILER_SMTP_URL="smtp://relay:port"))
    assert result.returncode == 2
    assert_one_clear_line(result.stderr, "MAILER_SMTP_URL has an invalid port")


def test_unreadable_url_exits_2_without_a_traceback(tmp_path: Path) -> None:
    # An unclosed '[' (a password with a bracket, a half-typed IPv6 host) made urlsplit raise.
    env = mailer_env(tmp_path, MAILER_DATABASE_URL="postgresql://mailer:pa[ss@db.internal/x")
    result = run_mailer(["config"], env)
    assert result.returncode == 2
    assert_one_clear_line(result.stderr, "MAILER_DATABASE_URL is not a valid URL")
    assert "pa[ss" not in result.stderr


def test_unusable_data_dir_exits_2_without_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = mailer_env(tmp_path, MAILER_DATA_DIR=str(blocker / "data"))
    result = run_mailer(["topics", "list"], env)
    assert result.returncode == 2
    assert_one_clear_line(result.stderr, f"MAILER_DATA_DIR {blocker / 'data'}")


def test_unreachable_database_exits_2(tmp_path: Path) -> None:
    env = mailer_env(
        tmp_path, MAILER_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/x"
    )
    result = run_mailer(["migrate"], env)
    assert result.returncode == 2
    assert_one_clear_line(result.stderr, "cannot reach the database at 127.0.0.1")


def test_missing_database_exits_2(tmp_path: Path, db_url: str) -> None:
    missing = db_url.rsplit("/", 1)[0] + "/no_such_database_here"
    result = run_mailer(["migrate"], mailer_env(tmp_path, MAILER_DATABASE_URL=missing))
    assert result.returncode == 2
    assert_one_clear_line(result.stderr, "does not exist")


def test_port_in_use_exits_2(tmp_path: Path, db_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = mailer_env(
            tmp_path,
            MAILER_DATABASE_URL=db_url,
            MAILER_LISTEN=f"127.0.0.1:{port}",
            MAILER_SMTP_URL="smtp://127.0.0.1:2525",
        )
        result = run_mailer(["serve"], env)
    assert result.returncode == 2
    assert_one_clear_line(result.stderr, "address already in use")


def test_bounce_port_in_use_exits_2_with_a_short_reason(tmp_path: Path, db_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = mailer_env(
            tmp_path,
            MAILER_DATABASE_URL=db_url,
            MAILER_LISTEN=f"127.0.0.1:{free_port()}",
            MAILER_BOUNCE_LISTEN=f"127.0.0.1:{port}",
        )
        result = run_mailer(["serve", "--role", "bounces"], env)
    assert result.returncode == 2
    assert_one_clear_line(result.stderr, "address already in use")
    assert result.stderr.strip().endswith(
        f"the bounce receiver cannot listen on 127.0.0.1:{port} (MAILER_BOUNCE_LISTEN): "
        "address already in use"
    ), result.stderr


def test_a_misspelt_setting_is_warned_about_not_silently_ignored(tmp_path: Path) -> None:
    result = run_mailer(["config"], mailer_env(tmp_path, MAILER_WORKER="4"))
    assert result.returncode == 0
    sentence = "MAILER_WORKER is not a mailer setting and is ignored (did you mean MAILER_WORKERS?)"
    assert sentence in result.stderr  # the log's warning, as every command gives it
    assert sentence in result.stdout  # and the settings shown


async def test_a_right_the_database_user_lacks_is_one_sentence(tmp_path: Path, db_url: str) -> None:
    import os
    from urllib.parse import urlsplit

    role = f"mailer_reader_{os.getpid()}"
    parts = urlsplit(db_url)
    as_role = parts._replace(
        netloc=f"{role}:reader-pw@{parts.hostname}:{parts.port or 5432}"
    ).geturl()
    admin = await asyncpg.connect(db_url)
    await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'reader-pw'")
    try:
        await admin.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        await admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        env = mailer_env(tmp_path, MAILER_DATABASE_URL=as_role)
        listed = run_mailer(["topics", "list"], env)
        assert listed.returncode == 0, listed.stderr
        refused = run_mailer(["topics", "add", "Harm Reduction"], env)
        assert refused.returncode == 1
        assert_one_clear_line(refused.stderr, "the database refused: permission denied")
    finally:
        await admin.execute(f"DROP OWNED BY {role}")
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()


def test_config_command_redacts_secrets(tmp_path: Path) -> None:
    env = mailer_env(
        tmp_path,
        MAILER_DATABASE_URL="postgresql://u:topsecretpw@db/x",
        MAILER_SECRET_KEY="s" * 40,
    )
    result = run_mailer(["config"], env)
    assert result.returncode == 0
    assert "topsecretpw" not in result.stdout
    assert "s" * 40 not in result.stdout
    assert "postgresql://u:***@db/x" in result.stdout
    # One column of values, whatever the length of a name (correction_subject_prefix).
    lines = result.stdout.splitlines()
    columns = {len(line) - len(line.split(None, 1)[1]) for line in lines if " " in line.strip()}
    assert len(columns) == 1, result.stdout


async def test_migrate_command_applies_everything(tmp_path: Path, pg_server) -> None:  # type: ignore[no-untyped-def]
    url = await pg_server.empty()
    result = run_mailer(["migrate"], mailer_env(tmp_path, MAILER_DATABASE_URL=url))
    assert result.returncode == 0, result.stderr
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") >= 1
    finally:
        await conn.close()
    await pg_server.drop(url)


def test_serve_shuts_down_gracefully_on_sigterm(tmp_path: Path, db_url: str) -> None:
    port = free_port()
    env = mailer_env(tmp_path, MAILER_DATABASE_URL=db_url, MAILER_LISTEN=f"127.0.0.1:{port}")
    service = Service.start(env, port)
    service.wait_ready()
    assert http_get(service.base_url + "/healthz")[0] == 200
    assert service.stop(signal.SIGTERM) == 0
    output = service.output()
    assert "shutting down" in output
    assert "stopped" in output
    assert "Traceback" not in output


def test_a_worker_says_at_start_that_the_smtp_relay_does_not_answer(
    tmp_path: Path, db_url: str
) -> None:
    port = free_port()
    relay = free_port()  # nothing listens there
    env = mailer_env(
        tmp_path,
        MAILER_DATABASE_URL=db_url,
        MAILER_LISTEN=f"127.0.0.1:{port}",
        MAILER_SMTP_URL=f"smtp://relayuser:relaypassw0rd@127.0.0.1:{relay}",
    )
    service = Service.start(env, port, role="worker", log_file=tmp_path / "worker.log")
    try:
        output = service.wait_for(f"the SMTP relay at 127.0.0.1:{relay} does not take")
        assert "check MAILER_SMTP_URL" in output
        assert "relaypassw0rd" not in output
        assert service.health_status() == 200  # it keeps running
    finally:
        assert service.stop() == 0


def test_production_logs_are_json_lines(tmp_path: Path, db_url: str) -> None:
    import json

    port = free_port()
    env = mailer_env(
        tmp_path,
        MAILER_ENV="production",
        MAILER_DATABASE_URL=db_url,
        MAILER_SMTP_URL="smtp://mailer:relaypassword@127.0.0.1:2525",
        MAILER_LISTEN=f"127.0.0.1:{port}",
        MAILER_BASE_URL="https://news.example.org",
        MAILER_SECRET_KEY="p" * 40,
        MAILER_FROM="News <news@health.example.org>",
        MAILER_POSTAL_ADDRESS="1 Main St",
    )
    service = Service.start(env, port, role="web")
    service.wait_ready()
    assert service.stop() == 0
    output = service.output()
    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert any(r["message"].startswith("mailer is running") for r in records)
    assert "relaypassword" not in output
    assert "p" * 40 not in output
