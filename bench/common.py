"""What every benchmark needs: the machine, Postfix's SMTP tools, a throwaway database, RSS.

Nothing here is imported by mailer; benchmarks print figures beside their ceilings and are
not run by the test suite. Everything a helper starts, it stops (context managers).
"""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil

from mailer.migrate import apply_migrations
from mailer.resources import migrations_dir

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTFIX_SBIN = Path("/usr/sbin")


def log(message: str) -> None:
    """Progress goes to stderr, figures to stdout."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the machine


def machine_info() -> dict[str, str]:
    """nproc, CPU model, memory, OS and Python: what a reader needs to weigh the figures."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = psutil.virtual_memory()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "memory": f"{memory.total / 2**30:.1f} GiB ({memory.available / 2**30:.1f} GiB available)",
        "load average": load,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def print_table(title: str, rows: Iterable[tuple[str, str]]) -> None:
    rows = list(rows)
    width = max((len(k) for k, _ in rows), default=0)
    print(f"\n== {title} ==")
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    sys.stdout.flush()


# ---------------------------------------------------------------- processes


def spawn(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    stdout: int | None = subprocess.DEVNULL,
    stderr: int | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a child that gets SIGTERM should the benchmark die without cleaning up.

    util-linux's setpriv sets the parent-death signal and then execs the command (same pid);
    unlike preexec_fn it runs no Python between fork and exec, so threads are no hazard.
    Call it from the main thread: the signal fires when the spawning thread exits.
    """
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        args = [setpriv, "--pdeathsig", "TERM", "--", *args]
    return subprocess.Popen(args, env=env, stdout=stdout, stderr=stderr, cwd=cwd)


def stop_process(process: subprocess.Popen[bytes], grace: float = 30.0) -> int | None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL. Returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            log(f"pid {process.pid} ignored SIGTERM for {grace:.0f}s; killing it")
            process.kill()
            process.wait(10)
    return process.returncode


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 if it is gone)."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


@dataclass(frozen=True)
class ProcessCpu:
    name: str  # what ps would show: the command, or PostgreSQL's process title
    cpu: float  # user + system seconds so far
    started: float  # create time: tells a reused pid apart


def cpu_snapshot() -> dict[int, ProcessCpu]:
    """CPU time of every process now alive, to attribute a window's CPU afterwards."""
    found: dict[int, ProcessCpu] = {}
    for proc in psutil.process_iter(["name", "cmdline", "cpu_times", "create_time"]):
        times = proc.info["cpu_times"]
        if times is None:
            continue
        cmdline = proc.info["cmdline"] or []
        title = " ".join(cmdline) if cmdline else (proc.info["name"] or "?")
        found[proc.pid] = ProcessCpu(
            title, float(times.user + times.system), float(proc.info["create_time"] or 0)
        )
    return found


def cpu_deltas(
    before: dict[int, ProcessCpu], after: dict[int, ProcessCpu]
) -> dict[int, ProcessCpu]:
    """CPU used between two snapshots per process alive at the end (a process born in
    between counts from zero; one that ended in between is lost: see machine_busy)."""
    deltas: dict[int, ProcessCpu] = {}
    for pid, now in after.items():
        then = before.get(pid)
        same = then is not None and then.started == now.started
        used = now.cpu - (then.cpu if then is not None and same else 0.0)
        if used > 0:
            deltas[pid] = ProcessCpu(now.name, used, now.started)
    return deltas


def machine_busy_seconds() -> tuple[float, float]:
    """Core-seconds every CPU spent not idle since boot (user, system, irq, steal...), and
    of that the part no process is charged for (interrupts, softirq: loopback TCP; steal)."""
    t = psutil.cpu_times()
    kernel = float(t.irq + t.softirq + t.steal)
    return float(t.user + t.nice + t.system) + kernel, kernel


@dataclass
class CpuWindow:
    """Where the machine's CPU went between __enter__ and __exit__ (or stop())."""

    seconds: float = 0.0
    busy: float = 0.0  # core-seconds not idle: every process and the kernel
    kernel: float = 0.0  # of which interrupts, softirq (loopback TCP) and steal
    deltas: dict[int, ProcessCpu] = field(default_factory=dict)  # per process alive at the end
    _before: dict[int, ProcessCpu] = field(default_factory=dict)
    _start: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def start(self) -> CpuWindow:
        self._before = cpu_snapshot()
        busy, kernel = machine_busy_seconds()
        self._start = (time.monotonic(), busy, kernel)
        return self

    def __enter__(self) -> CpuWindow:
        return self.start()

    def stop(self) -> None:
        if self.seconds:
            return
        busy, kernel = machine_busy_seconds()
        self.deltas = cpu_deltas(self._before, cpu_snapshot())
        started, busy0, kernel0 = self._start
        self.seconds = max(time.monotonic() - started, 1e-9)
        self.busy, self.kernel = busy - busy0, kernel - kernel0

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def used_by(self, pids: Iterable[int]) -> float:
        return sum(self.deltas[pid].cpu for pid in pids if pid in self.deltas)

    def exited(self) -> float:
        """CPU of processes that ended inside the window (no snapshot saw them at the end)."""
        return max(self.busy - self.kernel - sum(d.cpu for d in self.deltas.values()), 0.0)


def short_name(title: str, width: int = 60) -> str:
    return title if len(title) <= width else title[: width - 3] + "..."


def peak_rss_bytes(pid: int) -> int:
    """The kernel's high-water mark of the process's resident set (VmHWM); 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class RssSampler:
    """Samples the RSS of some processes in a thread; keeps each one's peak and last value."""

    pids: list[int]
    interval: float = 0.5
    peak: dict[int, int] = field(default_factory=dict)
    last: dict[int, int] = field(default_factory=dict)
    samples: dict[int, list[tuple[float, int]]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _sample(self) -> None:
        now = time.monotonic()
        for pid in self.pids:
            try:
                rss = int(psutil.Process(pid).memory_info().rss)
            except psutil.Error:
                continue
            self.last[pid] = rss
            self.peak[pid] = max(self.peak.get(pid, 0), rss)
            self.samples.setdefault(pid, []).append((now, rss))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MB"


# ---------------------------------------------------------------- Postfix's SMTP tools


def _run_quiet(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


def postfix_daemon_running() -> bool:
    for proc in psutil.process_iter(["name", "exe"]):
        if proc.info["name"] == "master" and "postfix" in (proc.info["exe"] or ""):
            return True
    return Path("/var/spool/postfix/pid/master.pid").exists() and (
        _run_quiet(["postfix", "status"]).returncode == 0
    )


def keep_postfix_daemon_off() -> None:
    """smtp-sink and smtp-source are all we want: the mail system itself stays off."""
    if shutil.which("postfix") is None:
        return
    if postfix_daemon_running():
        log("stopping the Postfix daemon the package started")
        _run_quiet(["postfix", "stop"])
    for disable in (["systemctl", "disable", "postfix"], ["update-rc.d", "postfix", "disable"]):
        if shutil.which(disable[0]) is not None:
            _run_quiet(disable)


def install_postfix() -> None:
    """Debian's postfix package, unconfigured ("No configuration"), its daemon off."""
    if os.geteuid() != 0:
        raise RuntimeError("smtp-sink is missing and only root can install postfix")
    log("installing Debian's postfix package (for smtp-sink and smtp-source)")
    policy = Path("/usr/sbin/policy-rc.d")
    added_policy = False
    if not policy.exists():  # keep maintainer scripts from starting the daemon
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        added_policy = True
    try:
        update = _run_quiet(["apt-get", "update", "-qq"])
        if update.returncode != 0:
            raise RuntimeError(f"apt-get update failed: {update.stderr.strip()[-500:]}")
        subprocess.run(
            ["debconf-set-selections"],
            input="postfix postfix/main_mailer_type select No configuration\n"
            "postfix postfix/mailname string localhost\n",
            text=True,
            check=False,
            capture_output=True,
        )
        install = _run_quiet(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postfix"],
            DEBIAN_FRONTEND="noninteractive",
        )
        if install.returncode != 0:
            raise RuntimeError(f"apt-get install postfix failed: {install.stderr.strip()[-500:]}")
    finally:
        if added_policy:
            policy.unlink(missing_ok=True)
        keep_postfix_daemon_off()


def postfix_tool(name: str) -> Path:
    """/usr/sbin/smtp-sink or smtp-source, installing postfix first if missing."""
    path = POSTFIX_SBIN / name
    if not path.exists():
        install_postfix()
    if not path.exists():
        raise RuntimeError(f"{path} is still missing after installing postfix")
    keep_postfix_daemon_off()
    return path


def postfix_version() -> str:
    result = _run_quiet(["postconf", "-d", "-h", "mail_version"])
    return result.stdout.strip() or "unknown"


def sink_user() -> str:
    """smtp-sink refuses to run as root without -u; nobody owns nothing it could write."""
    for user in ("nobody", "postfix"):
        with contextlib.suppress(KeyError):
            import pwd

            pwd.getpwnam(user)
            return user
    raise RuntimeError("neither user nobody nor postfix exists for smtp-sink -u")


@dataclass
class SmtpSink:
    """Postfix's smtp-sink on loopback: accepts every mail and keeps none of it."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


@contextlib.contextmanager
def smtp_sink(backlog: int = 1024) -> Iterator[SmtpSink]:
    """smtp-sink -u nobody 127.0.0.1:<free port> <backlog>; stopped on exit.

    No -d/-D: nothing is written anywhere. Only one process: smtp-sink is a single-threaded
    event loop, so its CPU time says how close to its own ceiling a run came.
    """
    binary = postfix_tool("smtp-sink")
    port = free_port()
    process = spawn([str(binary), "-u", sink_user(), f"127.0.0.1:{port}", str(backlog)])
    try:
        wait_for_port(port)
        if process.poll() is not None:
            raise RuntimeError(f"smtp-sink exited at once with code {process.returncode}")
        yield SmtpSink(port=port, process=process)
    finally:
        stop_process(process, grace=5)


# ---------------------------------------------------------------- a throwaway database


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextlib.asynccontextmanager
async def throwaway_database(
    admin_url: str | None = None, prefix: str = "mailer_bench"
) -> AsyncIterator[str]:
    """A new, migrated database on the local server (or MAILER_BENCH_DATABASE_URL's), dropped
    on exit even when connections to it are still open."""
    admin = admin_url or os.environ.get("MAILER_BENCH_DATABASE_URL") or LOCAL_POSTGRES
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    conn = await asyncpg.connect(admin, timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = with_database(admin, name)
    try:
        db = await asyncpg.connect(url, timeout=10)
        try:
            await apply_migrations(db, migrations_dir())
        finally:
            await db.close()
        yield url
    finally:
        conn = await asyncpg.connect(admin, timeout=10)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def server_version(url: str) -> str:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        version: str = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    return version
