"""Run `mailer` as a real process, the way an operator would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def mailer_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """A clean environment: nothing from the developer's shell or .env leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
    env.update({"MAILER_DATA_DIR": str(data_dir), "MAILER_DOTENV": os.devnull})
    # Role all also runs the bounce receiver: a port of its own, so runs never collide.
    env["MAILER_BOUNCE_LISTEN"] = f"127.0.0.1:{free_port()}"
    # No demo data unless a test asks for it (MAILER_DEMO="true"): tests start from empty.
    env["MAILER_DEMO"] = "false"
    env.update(overrides)
    return env


def run_mailer(
    args: list[str], env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailer", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 -- loopback test URL
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@dataclass
class Service:
    process: subprocess.Popen[str]
    base_url: str
    captured: str | None = None
    # Where the output goes when it must be read while the process runs (else a pipe).
    log_file: Path | None = None

    @classmethod
    def start(
        cls,
        env: Mapping[str, str],
        port: int,
        role: str = "all",
        *,
        log_file: Path | None = None,
        args: Sequence[str] = (),
    ) -> Service:
        with log_file.open("w") if log_file else nullcontext(subprocess.PIPE) as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "mailer", "serve", "--role", role, *args],
                env=dict(env),
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
            )
        return cls(process=process, base_url=f"http://127.0.0.1:{port}", log_file=log_file)

    def output_so_far(self) -> str:
        """What a running process with a log file printed until now."""
        assert self.log_file is not None, "start(..., log_file=...) to read output while running"
        return self.log_file.read_text()

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """Wait until the process (started with a log file) has printed `text`."""
        deadline = time.monotonic() + timeout
        while text not in (output := self.output_so_far()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"mailer never printed {text!r}:\n{output}")
            time.sleep(0.05)
        return output

    def health_status(self, timeout: float = 30) -> int:
        """/healthz's status once the port listens (a worker checks its relay first)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return http_get(self.base_url + "/healthz", timeout=1)[0]
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
            time.sleep(0.1)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"mailer exited early:\n{self.collect()}")
            try:
                status, _ = http_get(self.base_url + "/readyz", timeout=1)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.process.kill()
        raise AssertionError(f"mailer did not become ready:\n{self.collect()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal the process, wait for it, and keep what it printed."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.collect(timeout)
        return self.process.returncode

    def collect(self, timeout: float = 30) -> str:
        if self.captured is None:
            try:
                self.captured, _ = self.process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.captured, _ = self.process.communicate()
            if self.log_file is not None:
                self.captured = self.log_file.read_text()
        return self.captured

    def output(self) -> str:
        return self.collect()


def start_worker(env: Mapping[str, str]) -> subprocess.Popen[str]:
    """A delivery worker process without HTTP (as `serve` starts its extra workers).

    Its output goes to an unlinked temporary file, not a pipe: nobody reads a pipe while the
    test waits, and a worker logging through a long outage would block on a full one."""
    output = tempfile.TemporaryFile("w+")  # noqa: SIM115 -- closed by finish()
    process = subprocess.Popen(
        [sys.executable, "-m", "mailer", "serve", "--role", "worker", "--no-listen"],
        env=dict(env),
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _worker_output[process.pid] = output
    return process


_worker_output: dict[int, IO[str]] = {}


def worker_output(process: subprocess.Popen[str]) -> str:
    """What a worker started by start_worker printed so far."""
    output = _worker_output[process.pid]
    output.flush()
    output.seek(0)
    return output.read()


def finish(process: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 30) -> str:
    """Stop a worker (if still running) and return what it printed."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    text = worker_output(process)
    _worker_output.pop(process.pid).close()
    return text
