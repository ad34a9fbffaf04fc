"""bench/signup: signed webhook signups per second, p50/p99, while the confirmations go out.

wrk (Debian's, installed if missing) drives POST /webhooks/signup of a real `mailer serve`
on loopback with C connections for D seconds; every request is a distinct, validly signed
signup (bench-<phase>-<i>@example.org, topic overdose-prevention) pre-generated in Python
right before its run and cycled through by a wrk Lua script. The service sends each
confirmation for real, to Postfix's smtp-sink on loopback, during the run. Beside it, in
the same run, with the same wrk, connections and duration: a bare aiohttp + asyncpg app
(bench/signup_reference.py) doing one INSERT per request against the same PostgreSQL.

Run it as `bench/signup` (or `make bench-signup`); see --help. Progress goes to stderr,
figures to stdout. Everything it starts (smtp-sink, mailer, the reference, the database)
it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import common
import uvloop
from common import log, print_table

from mailer.audience.topics import create_topic
from mailer.signatures import HEADER, sign

BENCH_DIR = Path(__file__).resolve().parent
PYTHON = sys.executable
PATH = "/webhooks/signup"
TOPIC = "overdose-prevention"
RATE_PER_IP = 100_000  # MAILER_SIGNUP_RATE_PER_IP's maximum; the webhook allows 20x per minute
TARGET_RATIO = 0.60  # of the reference's req/s (issue #23)
TARGET_P99_MS = 50.0  # at 50 connections
NOISY_NEIGHBOURS = 0.15  # cores used by processes outside the benchmark worth a warning
MAX_DURATION = 240  # a signature is valid for 300 s from its timestamp
CONSENT = (
    "Yes, email me the newsroom's public health news, publications and interviews with "
    "experts. I can unsubscribe at any time."
)

# One line per request in the requests file: "<Mailer-Signature value>\t<JSON body>".
# Thread k of n sends lines k, k+n, k+2n, ... so bodies are distinct across threads; a
# thread that runs out starts again (counted: for mailer that would repeat addresses).
WRK_SCRIPT = r"""
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local sigs, bodies = {}, {}
local n, i = 0, 0
non202, wraps, first_bad = 0, 0, ""

function init(args)
  local nthreads = tonumber(args[2])
  local k = 0
  for line in io.lines(args[1]) do
    if k % nthreads == id then
      local tab = line:find("\t", 1, true)
      n = n + 1
      sigs[n] = line:sub(1, tab - 1)
      bodies[n] = line:sub(tab + 1)
    end
    k = k + 1
  end
end

function request()
  i = i + 1
  if i > n then
    i = 1
    wraps = wraps + 1
  end
  return wrk.format("POST", nil,
    {["Content-Type"] = "application/json", ["Mailer-Signature"] = sigs[i]}, bodies[i])
end

function response(status, headers, body)
  if status ~= 202 then
    non202 = non202 + 1
    if first_bad == "" then
      first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 300)
    end
  end
end

function done(summary, latency, requests)
  local bad, wrapped, first = 0, 0, ""
  for _, t in ipairs(threads) do
    bad = bad + t:get("non202")
    wrapped = wrapped + t:get("wraps")
    if first == "" then first = t:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT %d %d %d %d %d %d %d %d %d %.0f %.0f %.0f %.0f %.0f %.0f\n",
    summary.requests, summary.duration, bad, wrapped, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
  if first ~= "" then
    io.write("WRK_FIRST_BAD " .. first:gsub("\n", " ") .. "\n")
  end
end
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/signup",
        description="Signed webhook signups per second and latency, beside a bare "
        "aiohttp + asyncpg handler doing one INSERT, measured in the same run.",
    )
    parser.add_argument("--duration", type=int, default=20, metavar="S", help="measured seconds")
    parser.add_argument("--connections", type=int, default=50, metavar="C")
    parser.add_argument("--threads", type=int, default=2, metavar="T", help="wrk threads")
    parser.add_argument("--warmup", type=int, default=3, metavar="S", help="seconds before each")
    parser.add_argument("--skip-reference", action="store_true", help="measure mailer only")
    parser.add_argument(
        "--role",
        choices=["all", "split"],
        default="all",
        help="all: one `mailer serve --role all` process (the default deployment); split: "
        "`serve --role web` plus a separate `serve --role worker` process",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=120.0,
        metavar="S",
        help="how long to wait after the run for the confirmations still queued",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="record mailer's processes with py-spy (non-blocking) during the measured run: "
        "FILE.svg is a flame graph, FILE.txt collapsed stacks (with --role split, the worker's "
        "goes to FILE-worker.svg/.txt); the figures of such a run are perturbed by the sampling",
    )
    return parser


# ---------------------------------------------------------------- wrk


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found is not None:
        return found
    if os.geteuid() != 0:
        raise RuntimeError("wrk is missing and only root can install it (apt-get install wrk)")
    log("installing Debian's wrk")
    subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"],
        check=True,
        timeout=600,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is still missing after apt-get install wrk")
    return found


def wrk_version(wrk: str) -> str:
    result = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    return (result.stdout or result.stderr).splitlines()[0].strip()


def signup_body(phase: str, i: int) -> bytes:
    return json.dumps(
        {
            "email": f"bench-{phase}-{i}@example.org",
            "name": f"Bench Reader {i}",
            "topics": [TOPIC],
            "source": "https://news.example.org/join",
            "consent_text": CONSENT,
            "locale": "en",
            "ip": f"198.51.100.{i % 254 + 1}",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64) bench/signup",
        },
        separators=(",", ":"),
    ).encode()


def write_requests(path: Path, phase: str, count: int, secret: str) -> None:
    """`count` distinct signed signups, all signed now (valid for 5 minutes)."""
    started = time.monotonic()
    timestamp = int(time.time())
    with path.open("wb") as out:
        for i in range(count):
            body = signup_body(phase, i)
            out.write(sign(secret, body, timestamp).encode() + b"\t" + body + b"\n")
    log(f"signed {count:,} {phase} requests in {time.monotonic() - started:.1f} s")


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    non202: int
    wraps: int
    socket_errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    mean_ms: float
    first_bad: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def errors(self) -> int:
        return sum(self.socket_errors.values())


def parse_wrk(output: str) -> WrkResult:
    first_bad = ""
    numbers: list[float] | None = None
    for line in output.splitlines():
        if line.startswith("WRK_RESULT "):
            numbers = [float(x) for x in line.split()[1:]]
        elif line.startswith("WRK_FIRST_BAD "):
            first_bad = line.removeprefix("WRK_FIRST_BAD ")
    if numbers is None:
        raise RuntimeError(f"wrk printed no result:\n{output[-2000:]}")
    req, dur, bad, wraps, conn, read, write, _status, timeout = (int(x) for x in numbers[:9])
    p50, p90, p99, p999, top, mean = (x / 1000 for x in numbers[9:])
    return WrkResult(
        requests=req,
        seconds=dur / 1e6,
        non202=bad,
        wraps=wraps,
        socket_errors={"connect": conn, "read": read, "write": write, "timeout": timeout},
        p50_ms=p50,
        p90_ms=p90,
        p99_ms=p99,
        p999_ms=p999,
        max_ms=top,
        mean_ms=mean,
        first_bad=first_bad,
    )


async def run_wrk(
    wrk: str,
    script: Path,
    requests_file: Path,
    port: int,
    *,
    threads: int,
    connections: int,
    seconds: int,
) -> tuple[WrkResult, int]:
    """One wrk run; returns its result and its pid (for the CPU accounting)."""
    args = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}{PATH}",
        "--",
        str(requests_file),
        str(threads),
    ]
    process = common.spawn(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = await asyncio.to_thread(process.communicate, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        common.stop_process(process, grace=5)
        raise RuntimeError(f"wrk did not finish within {seconds + 60} s") from None
    except BaseException:  # cancelled (SIGTERM, Ctrl-C): don't wait for wrk to finish
        common.stop_process(process, grace=5)
        raise
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {err.decode()[-2000:]}")
    return parse_wrk(out.decode()), process.pid


# ---------------------------------------------------------------- the processes


@dataclass
class Server:
    label: str
    port: int
    processes: list[subprocess.Popen[bytes]]
    logs: list[Path]
    names: list[str]  # one per process, for the CPU table

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def check_alive(self) -> None:
        for process, log_file in zip(self.processes, self.logs, strict=True):
            if process.poll() is not None:
                tail = log_file.read_text(errors="replace")[-3000:]
                code = process.returncode
                why = " (a signal from outside the benchmark?)" if code in (0, -15, 143) else ""
                raise RuntimeError(f"{self.label} pid {process.pid} exited ({code}){why}:\n{tail}")


async def wait_ready(server: Server, url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            server.check_alive()
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{server.label} was not ready at {url} after {timeout:.0f} s")


@contextlib.asynccontextmanager
async def started(
    label: str,
    commands: list[list[str]],
    env: dict[str, str],
    tmp: Path,
    port: int,
    names: list[str],
) -> AsyncIterator[Server]:
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    try:
        for n, command in enumerate(commands):
            log_file = tmp / f"{label.replace(' ', '-')}-{n}.log"
            logs.append(log_file)
            with log_file.open("wb") as handle:
                processes.append(
                    common.spawn(command, env=env, stdout=handle.fileno(), stderr=subprocess.STDOUT)
                )
        yield Server(label, port, processes, logs, names)
    finally:
        for process in reversed(processes):
            code = common.stop_process(process, grace=30)
            if code not in (0, -signal.SIGTERM):
                log(f"{label} pid {process.pid} exited with code {code}")


def mailer_env(
    database_url: str, sink_url: str, port: int, tmp: Path, secret: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
    env.update(
        MAILER_ENV="production",
        MAILER_DATABASE_URL=database_url,
        MAILER_SMTP_URL=sink_url,
        MAILER_LISTEN=f"127.0.0.1:{port}",
        MAILER_BASE_URL="https://news.example.org",
        MAILER_SECRET_KEY=secrets.token_urlsafe(48),
        MAILER_WEBHOOK_SECRETS=secret,
        MAILER_FROM="Health News <news@health.example.org>",
        MAILER_POSTAL_ADDRESS="Health News, 1 Example Street, 1000 Example City",
        MAILER_ORGANISATION="Health News",
        MAILER_DATA_DIR=str(tmp / "data"),
        MAILER_DOTENV=os.devnull,
        MAILER_LOG_LEVEL="WARNING",
        MAILER_SIGNUP_RATE_PER_IP=str(RATE_PER_IP),
        MAILER_WORKERS="1",
    )
    return env


def mailer_commands(role: str) -> list[list[str]]:
    serve = [PYTHON, "-m", "mailer", "serve"]
    if role == "all":
        return [[*serve, "--role", "all"]]
    return [[*serve, "--role", "web"], [*serve, "--role", "worker", "--no-listen"]]


def start_profiler(target: Path, pid: int, seconds: int) -> subprocess.Popen[bytes]:
    py_spy = Path(PYTHON).parent / "py-spy"
    if not py_spy.exists():
        raise RuntimeError(f"{py_spy} is missing: .venv/bin/pip install py-spy")
    fmt = "raw" if target.suffix == ".txt" else "flamegraph"
    args = [str(py_spy), "record", "--nonblocking", "--format", fmt, "-o", str(target)]
    args += ["-d", str(seconds), "--pid", str(pid)]
    return common.spawn(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Confirmations:
    total: int
    sent: int
    pending: int  # queued, sending or deferred
    other: int  # failed, suppressed, cancelled
    subscribers: int


async def confirmations(conn: asyncpg.Connection) -> Confirmations:
    row = await conn.fetchrow(
        """
        SELECT count(*) AS total,
               count(*) FILTER (WHERE status = 'sent') AS sent,
               count(*) FILTER (WHERE status IN ('queued', 'sending', 'deferred')) AS pending,
               count(*) FILTER (WHERE status IN ('failed', 'suppressed', 'cancelled')) AS other,
               (SELECT count(*) FROM subscribers) AS subscribers
        FROM deliveries WHERE kind = 'confirm'
        """
    )
    assert row is not None
    return Confirmations(
        row["total"], row["sent"], row["pending"], row["other"], row["subscribers"]
    )


@dataclass(frozen=True)
class Measured:
    label: str
    wrk: WrkResult
    cpu: dict[str, float]  # cores used on average during the run, per part
    neighbours: list[tuple[str, float]]  # the biggest CPU users not part of the benchmark
    servers: list[str]  # the server processes' names in `cpu`
    commits: float  # PostgreSQL transactions committed per request (about: stats lag ~1 s)
    rows: float  # rows inserted, updated or deleted per request
    at_end: Confirmations  # the confirmation mails when wrk stopped


def _other_database(title: str, database: str) -> bool:
    """A PostgreSQL backend serving another database: "postgres: 15/main: user db host ..."."""
    parts = title.split(": ", 2)
    if len(parts) < 3 or not parts[0].startswith("postgres"):
        return False
    words = parts[2].split()
    is_backend = len(words) >= 3 and ("(" in words[2] or words[2] == "[local]")
    return is_backend and words[1] != database


def attribute_cpu(
    window: common.CpuWindow,
    parts: Mapping[str, Iterable[int]],
    *,
    database: str,
    wrk_seconds: float,
) -> tuple[dict[str, float], list[tuple[str, float]]]:
    """Average cores per part over the window, and the neighbours' (processes that are not
    part of this benchmark) biggest users. wrk has exited by the end of the window, so its
    CPU comes from this process's reaped-children usage."""
    seconds = window.seconds
    named: set[int] = set()
    cores: dict[str, float] = {}
    for name, pids in parts.items():
        pid_list = list(pids)
        named.update(pid_list)
        cores[name] = window.used_by(pid_list) / seconds
    cores["wrk"] = wrk_seconds / seconds
    own_pids = {os.getpid()}
    neighbours: list[tuple[str, float]] = []
    postgres: list[int] = []
    for pid, d in window.deltas.items():
        if pid in named or pid in own_pids:
            continue
        if d.name.startswith("postgres") and not _other_database(d.name, database):
            postgres.append(pid)
        else:
            neighbours.append((d.name, d.cpu / seconds))
    cores["PostgreSQL"] = window.used_by(postgres) / seconds
    cores["bench/signup"] = window.used_by(own_pids) / seconds
    cores["kernel (softirq, steal)"] = window.kernel / seconds
    exited = max(window.exited() - wrk_seconds, 0.0) / seconds
    cores["neighbours"] = sum(c for _, c in neighbours) + exited
    cores["machine busy"] = window.busy / seconds
    neighbours.sort(key=lambda n: -n[1])
    return cores, neighbours[:5]


async def measure(
    label: str,
    server: Server,
    wrk: str,
    script: Path,
    tmp: Path,
    args: argparse.Namespace,
    *,
    phase: str,
    count: int,
    secret: str,
    sink_pid: int,
    database: str,
    conn: asyncpg.Connection,
    profile: Path | None = None,
) -> Measured:
    requests_file = tmp / f"{phase}.requests"
    write_requests(requests_file, phase, count, secret)
    profilers: list[subprocess.Popen[bytes]] = []
    targets: list[Path] = []
    if profile is not None:
        for n, pid in enumerate(server.pids):
            target = profile if n == 0 else profile.with_stem(f"{profile.stem}-worker")
            targets.append(target)
            profilers.append(start_profiler(target, pid, args.duration))
    try:
        commits0, rows0 = await pg_counters(conn)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        with common.CpuWindow() as window:
            result, _ = await run_wrk(
                wrk,
                script,
                requests_file,
                server.port,
                threads=args.threads,
                connections=args.connections,
                seconds=args.duration,
            )
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        at_end = await confirmations(conn)
        await asyncio.sleep(1.0)  # backends report their statistics at most once a second
        commits1, rows1 = await pg_counters(conn)
        for profiler, target in zip(profilers, targets, strict=True):
            await asyncio.to_thread(profiler.wait, 60)
            log(f"py-spy wrote {target}")
    finally:
        requests_file.unlink(missing_ok=True)
        for profiler in profilers:
            common.stop_process(profiler, grace=5)
    wrk_seconds = reaped.ru_utime + reaped.ru_stime - children.ru_utime - children.ru_stime
    server.check_alive()
    parts = {name: [pid] for name, pid in zip(server.names, server.pids, strict=True)}
    parts["smtp-sink"] = [sink_pid]
    if profilers:
        parts["py-spy"] = [profiler.pid for profiler in profilers]
    cores, neighbours = attribute_cpu(window, parts, database=database, wrk_seconds=wrk_seconds)
    n = max(result.requests, 1)
    return Measured(
        label,
        result,
        cores,
        neighbours,
        server.names,
        (commits1 - commits0) / n,
        (rows1 - rows0) / n,
        at_end,
    )


async def pg_counters(conn: asyncpg.Connection) -> tuple[int, int]:
    """Transactions committed and rows written in this database so far."""
    row = await conn.fetchrow(
        "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted AS rows "
        "FROM pg_stat_database WHERE datname = current_database()"
    )
    assert row is not None
    return int(row["xact_commit"]), int(row["rows"])


async def warm_up(
    server: Server, wrk: str, script: Path, tmp: Path, args: argparse.Namespace, secret: str
) -> WrkResult:
    phase = f"warm{server.port}"
    requests_file = tmp / f"{phase}.requests"
    write_requests(requests_file, phase, 8000 * args.warmup + 1000, secret)
    result, _ = await run_wrk(
        wrk,
        script,
        requests_file,
        server.port,
        threads=args.threads,
        connections=args.connections,
        seconds=args.warmup,
    )
    requests_file.unlink()
    log(f"warm-up: {result.requests:,} requests ({result.rate:,.0f}/s), {result.non202} non-202")
    return result


async def drain(conn: asyncpg.Connection, timeout: float) -> tuple[Confirmations, float]:
    """Wait until no confirmation is pending (or the timeout passes)."""
    started = time.monotonic()
    while True:
        counts = await confirmations(conn)
        waited = time.monotonic() - started
        if counts.pending == 0 or waited >= timeout:
            return counts, waited
        await asyncio.sleep(0.2)


# ---------------------------------------------------------------- reporting


def fmt_wrk(m: Measured) -> list[tuple[str, str]]:
    w = m.wrk
    errors = ", ".join(f"{k} {v}" for k, v in w.socket_errors.items() if v) or "none"
    rows = [
        ("requests", f"{w.requests:,} in {w.seconds:.1f} s = {w.rate:,.0f} req/s"),
        ("latency", f"p50 {w.p50_ms:.1f} ms, p90 {w.p90_ms:.1f} ms, p99 {w.p99_ms:.1f} ms, "
         f"p99.9 {w.p999_ms:.1f} ms, max {w.max_ms:.1f} ms (mean {w.mean_ms:.1f} ms)"),
        ("non-202 responses", f"{w.non202:,}" + (f" (first: {w.first_bad})" if w.non202 else "")),
        ("socket errors", errors),
        ("CPU (cores)", ", ".join(f"{k} {v:.2f}" for k, v in m.cpu.items())),
        ("CPU per request", ", ".join(f"{k} {1000 * m.cpu[k] / w.rate:.2f} ms"
                                      for k in (*m.servers, "PostgreSQL", "wrk"))),
        ("PostgreSQL work", f"about {m.commits:.1f} commits and {m.rows:.1f} rows written per "
         "request (pg_stat_database, run + 1 s)"),
    ]  # fmt: skip
    if m.cpu["neighbours"] > NOISY_NEIGHBOURS:
        top = "; ".join(f"{common.short_name(name)} {c:.2f}" for name, c in m.neighbours)
        busy = m.cpu["neighbours"]
        rows.append(
            ("WARNING", f"the machine was not quiet: other processes used {busy:.2f} cores "
             f"({top}); the figures are depressed")
        )  # fmt: skip
    return rows


def mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# ---------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> int:
    if not 1 <= args.duration <= MAX_DURATION:
        raise SystemExit(f"--duration must be between 1 and {MAX_DURATION} (signatures age)")
    if args.connections < args.threads:
        raise SystemExit("--connections must be at least --threads")
    began = time.monotonic()
    wrk = ensure_wrk()
    info = common.machine_info()
    secret = secrets.token_urlsafe(32)
    failures: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="mailer-bench-signup-") as tmp_name,
        common.smtp_sink() as sink,
    ):
        tmp = Path(tmp_name)
        script = tmp / "signup.lua"
        script.write_text(WRK_SCRIPT)
        log(f"smtp-sink on 127.0.0.1:{sink.port} (pid {sink.pid})")
        async with common.throwaway_database(prefix="mailer_bench_signup") as database_url:
            database = urlsplit(database_url).path.lstrip("/")
            conn = await asyncpg.connect(database_url, timeout=10)
            try:
                pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
                assert pool is not None
                try:
                    await create_topic(pool, name="Overdose Prevention", slug=TOPIC)
                finally:
                    await pool.close()
                info["PostgreSQL"] = await conn.fetchval("SHOW server_version")
                info["Postfix smtp-sink"] = common.postfix_version()
                info["wrk"] = wrk_version(wrk)
                info["libraries"] = (
                    f"aiohttp {version('aiohttp')}, asyncpg {version('asyncpg')}, "
                    f"uvloop {version('uvloop')} (both servers run on uvloop)"
                )
                print_table("machine", info.items())
                what = (
                    "one `python -m mailer serve --role all` process (web, scheduler and "
                    "delivery worker in one event loop)"
                    if args.role == "all"
                    else "`python -m mailer serve --role web` + a separate "
                    "`python -m mailer serve --role worker --no-listen` process"
                )
                print_table(
                    "setup",
                    [
                        ("load", f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s "
                         f"POST {PATH} on loopback, after a {args.warmup} s warm-up"),
                        ("requests", "each a distinct signup signed with "
                         f"{HEADER}: t=...,v1=HMAC-SHA256; body e.g. "
                         f"{signup_body('m', 0).decode()}"),
                        ("mailer", what),
                        ("mailer settings", f"MAILER_ENV=production, MAILER_SIGNUP_RATE_PER_IP="
                         f"{RATE_PER_IP} (the maximum it accepts; the webhook allows "
                         f"{20 * RATE_PER_IP:,}/min per IP), MAILER_LOG_LEVEL=WARNING, "
                         f"SMTP to smtp-sink at {sink.url}, other settings default"),
                        ("reference", "skipped" if args.skip_reference else
                         "bench/signup_reference.py: aiohttp + asyncpg (default pool of 10), "
                         "one INSERT per request, no parsing, no signature check"),
                        ("database", "throwaway, migrated, on the local PostgreSQL (dropped "
                         "at the end)"),
                    ],
                )  # fmt: skip

                reference: Measured | None = None
                if not args.skip_reference:
                    port = common.free_port()
                    command = [
                        PYTHON,
                        str(BENCH_DIR / "signup_reference.py"),
                        "--database-url",
                        database_url,
                        "--port",
                        str(port),
                    ]
                    async with started(
                        "reference", [command], dict(os.environ), tmp, port, ["reference"]
                    ) as ref:
                        await asyncio.to_thread(common.wait_for_port, port, 30)
                        ref.check_alive()
                        await warm_up(ref, wrk, script, tmp, args, secret)
                        log(f"measuring the reference for {args.duration} s")
                        reference = await measure(
                            "reference", ref, wrk, script, tmp, args,
                            phase="ref", count=8000 * args.duration, secret=secret,
                            sink_pid=sink.pid, database=database, conn=conn,
                        )  # fmt: skip
                    print_table("reference: bare aiohttp + asyncpg, one INSERT", fmt_wrk(reference))

                port = common.free_port()
                env = mailer_env(database_url, sink.url, port, tmp, secret)
                commands = mailer_commands(args.role)
                names = ["mailer"] if args.role == "all" else ["mailer web", "mailer worker"]
                async with started("mailer", commands, env, tmp, port, names) as service:
                    await wait_ready(service, f"http://127.0.0.1:{port}/readyz")
                    log(f"mailer ready (pids {', '.join(map(str, service.pids))})")
                    warm = await warm_up(service, wrk, script, tmp, args, secret)
                    if warm.non202:
                        failures.append(f"warm-up had {warm.non202} non-202: {warm.first_bad}")
                    await asyncio.sleep(1.0)  # requests wrk left in flight still commit
                    counts, waited = await drain(conn, args.drain_timeout)
                    log(f"warm-up confirmations: {counts.sent:,} sent after {waited:.1f} s more")
                    before = await confirmations(conn)
                    per_second = 10_000 if reference is None else max(6000, 2 * reference.wrk.rate)
                    log(f"measuring mailer for {args.duration} s")
                    mailer = await measure(
                        "mailer", service, wrk, script, tmp, args,
                        phase="m", count=math.ceil(per_second * args.duration), secret=secret,
                        sink_pid=sink.pid, database=database, conn=conn, profile=args.profile,
                    )  # fmt: skip
                    after_run = mailer.at_end
                    log(f"run over; waiting up to {args.drain_timeout:.0f} s for the rest")
                    final, drained_in = await drain(conn, args.drain_timeout)
            finally:
                await conn.close()

    w = mailer.wrk
    queued = after_run.total - before.total
    rows = fmt_wrk(mailer)
    rows += [
        ("signups recorded", f"{after_run.subscribers - before.subscribers:,} new subscribers "
         f"during the run ({w.requests:,} answered 202)"),
        ("confirmations", f"{queued:,} queued during the run; {after_run.sent - before.sent:,} "
         f"sent during it ({after_run.pending:,} still queued at its end); "
         f"{final.sent - before.sent:,} of {final.total - before.total:,} (with the requests "
         f"in flight when wrk stopped) sent by {drained_in:.1f} s after it"
         + (f"; {final.pending:,} STILL PENDING" if final.pending else "")
         + (f"; {final.other:,} failed/suppressed" if final.other else "")),
    ]  # fmt: skip
    print_table(f"mailer ({'role all' if args.role == 'all' else 'web + worker'})", rows)

    if w.wraps:
        failures.append(f"wrk ran out of distinct requests ({w.wraps} wraps): addresses repeated")
    if w.non202 or w.errors:
        failures.append(f"{w.non202} non-202 responses, {w.errors} socket errors")
    if final.pending or final.other:
        failures.append("not every confirmation was sent")
    target_rows: list[tuple[str, str]] = []
    lines: list[str] = []  # `TARGET <what>: <figure> vs <target> PASS|FAIL`
    if reference is not None:
        ratio = w.rate / reference.wrk.rate
        ok = ratio >= TARGET_RATIO
        target_rows.append(
            (
                f"{mark(ok)} rate >= {TARGET_RATIO:.0%} of the reference",
                f"{ratio:.0%} ({w.rate:,.0f} vs {reference.wrk.rate:,.0f} req/s)",
            )
        )
        lines.append(
            f"TARGET signup rate vs bare aiohttp + asyncpg: {ratio:.1%} ({w.rate:,.0f} vs "
            f"{reference.wrk.rate:,.0f} req/s) vs >= {TARGET_RATIO:.0%} {mark(ok)}"
        )
    ok = w.p99_ms < TARGET_P99_MS
    target_rows.append(
        (
            f"{mark(ok)} p99 < {TARGET_P99_MS:g} ms",
            f"{w.p99_ms:.1f} ms"
            + (f" (reference {reference.wrk.p99_ms:.1f} ms)" if reference else ""),
        )
    )
    lines.append(
        f"TARGET signup p99 at {args.connections} connections: {w.p99_ms:.1f} ms "
        f"vs < {TARGET_P99_MS:g} ms {mark(ok)}"
    )
    target_rows.append(
        (f"{mark(not failures)} every request 202, every mail sent", "; ".join(failures) or "yes")
    )
    lines.append(
        f"TARGET signup every request 202 and every confirmation sent: "
        f"{'; '.join(failures) or 'yes'} vs yes {mark(not failures)}"
    )
    print_table("targets", target_rows)
    print()
    for line in lines:
        print(line)
    print(f"\nbench/signup finished in {time.monotonic() - began:.0f} s")
    return 1 if failures else 0


def main() -> int:
    args = build_parser().parse_args()

    def terminate(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through every cleanup

    signal.signal(signal.SIGTERM, terminate)
    return uvloop.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
