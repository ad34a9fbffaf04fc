"""Debian's PgBouncer in transaction mode on a free loopback port, in front of the test
PostgreSQL (`make pgbouncer-deps` installs it)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.support.process import free_port


def _pooler_url(url: str, port: int) -> str:
    parts = urlsplit(url)
    user = parts.username or "postgres"
    return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{port}"))


@contextmanager
def pgbouncer(server_url: str) -> Iterator[str]:
    """Run PgBouncer (pool_mode=transaction, a few server connections per database so that
    clients share them) in front of the server of `server_url`; yields `server_url` with
    the pooler's port. As root it runs as the postgres user (PgBouncer refuses root)."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    assert os.path.exists(binary), "PgBouncer is missing: run `make pgbouncer-deps`"
    parts = urlsplit(server_url)
    user = parts.username or "postgres"
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="mailer-pgbouncer-"))
    folder.chmod(0o755)  # readable by the postgres user it runs as
    (folder / "users.txt").write_text(f'"{user}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={parts.hostname or '127.0.0.1'} port={parts.port or 5432}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {folder / 'users.txt'}\n"
        "pool_mode = transaction\n"
        "default_pool_size = 4\n"
        "max_client_conn = 200\n"
        "ignore_startup_parameters = extra_float_digits\n"
    )
    for file in folder.iterdir():
        file.chmod(0o644)
    command = [binary, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "postgres"]
    log = (folder / "out.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"pgbouncer did not start:\n{(folder / 'out.log').read_text()}"
                    ) from None
                time.sleep(0.05)
        yield _pooler_url(server_url, port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
