"""The container image's own probe, run as Docker runs it (no Docker needed)."""

import os
import subprocess
import sys
from pathlib import Path

from tests.support.process import Service, free_port, mailer_env

DOCKERFILE = Path(__file__).parents[2] / "Dockerfile"


def healthcheck_command() -> str:
    """The shell form of the Dockerfile's HEALTHCHECK CMD (continuation lines joined)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith("HEALTHCHECK "))
    return line.split(" CMD ", 1)[1].strip()


def probe(listen: str) -> int:
    env = {**os.environ, "MAILER_LISTEN": listen}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # `python`
    command = ["/bin/sh", "-c", healthcheck_command()]
    return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode


def test_the_healthcheck_asks_the_port_mailer_listens_on(tmp_path: Path, db_url: str) -> None:
    """It asked 127.0.0.1:8080 whatever MAILER_LISTEN said: a container given another port
    was marked unhealthy, and restarted by its orchestrator, while it served fine."""
    port = free_port()
    listen = f"127.0.0.1:{port}"
    env = mailer_env(tmp_path, MAILER_DATABASE_URL=db_url, MAILER_LISTEN=listen)
    service = Service.start(env, port, role="web")
    try:
        service.wait_ready()
        assert probe(listen) == 0
        assert probe(f"0.0.0.0:{port}") == 0  # every address: asked on loopback
    finally:
        assert service.stop() == 0
    assert probe(listen) != 0  # and it notices when nothing answers
