"""bench/delivery: a personalised ~31 KB digest to N subscribers through the real engine.

The engine is `mailer serve --role worker --no-listen` processes against a throwaway
database, sending to Postfix's smtp-sink on loopback. Beside it, in the same run, two
ceilings with the same message bytes into the same sink: Postfix's smtp-source (the
machine's SMTP ceiling) and bare aiosmtplib on uvloop in one process (the library's). The
figures: messages/s end to end and their ratio to each ceiling, fan-out time
(tests/support/mailings.py start_sending), peak RSS per worker, database rows/s, and where
the CPU went.

Run it as `bench/delivery` (or `make bench-delivery`); see --help. Progress goes to stderr,
figures to stdout. Everything it starts (smtp-sink, workers, the database) it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
import common
import psutil
import uvloop
from common import log, mib, print_table

from mailer.config import Settings, load_settings
from mailer.db import open_pool
from mailer.delivery import mailings
from mailer.delivery.compose import Composer
from mailer.demo.content import sample_digest_content
from mailer.models import ClaimedDelivery
from tests.support import mailings as support_mailings

FROM = "Health News <news@health.example.org>"
LIST_ID = "Weekly news <weekly.news.example.org>"
SUBJECT = "Weekly public health news"
BASE_URL = "https://news.example.org"
ITEMS_PER_TOPIC = 4  # renders ~31 KB of HTML + text
CEILING_FROM = "bounces+1-abcdefgh@health.example.org"  # the shape of the engine's VERP sender
CEILING_TO = "reader0@example.org"

TARGET_ONE_WORKER = 0.75  # of bare aiosmtplib
TARGET_DEPLOYMENT = 0.70  # of smtp-source -> smtp-sink, the default round (2 workers)
TARGET_FANOUT_1M = 15.0  # seconds for 1,000,000 deliveries
TARGET_RSS = 80 * 2**20  # per worker process
# Flat: what a worker's RSS grows by over the last three quarters of the sending, at most
# (compare the peak of a 100,000 run with a --million run for the same from 100k to 1M).
TARGET_RSS_GROWTH = 2 * 2**20
WORKER_COMMAND = ("-m", "mailer", "serve", "--role", "worker", "--no-listen")
POLL_INTERVAL = 0.5
PROGRESS_INTERVAL = 5.0  # at 100,000 deliveries; mailings.progress() scans them all, so
# it is asked less often for bigger mailings (its cost is printed)

# Subscriber names, about half of them non-ASCII (RFC 2047 in To:), some missing.
NAMES: tuple[str | None, ...] = (
    "Ana García",
    "Mary Smith",
    "Jürgen Groß",
    "John Brown",
    "Zoë Ørsted",
    None,
    "Chloé Dubois",
    "Li Wei",
    "Đorđe Petrović",
    "Ngozi Okafor",
    "Ольга Иванова",
    "Priya Sharma",
    "李小龙",
    "Søren Nørgaard",
    None,
    "Aiko Tanaka",
)
DOMAINS = ("example.org", "mail.example.com", "inbox.example.net", "health.example.org")


def mark(ok: bool | None) -> str:
    return {True: "[PASS]", False: "[FAIL]", None: "[n/a ]"}[ok]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


# ---------------------------------------------------------------- arguments


def parse_workers(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number list: {text!r}") from exc
    if not counts or any(not 1 <= k <= 16 for k in counts):
        raise argparse.ArgumentTypeError("worker counts must be between 1 and 16")
    return counts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/delivery",
        description="Send a personalised ~31 KB digest to N synthetic subscribers through "
        "the real delivery engine into Postfix's smtp-sink, beside two ceilings measured in "
        "the same run (smtp-source and bare aiosmtplib), and print the figures with targets.",
    )
    parser.add_argument(
        "--subscribers",
        type=int,
        default=100_000,
        metavar="N",
        help="synthetic active subscribers, one delivery each (default 100000)",
    )
    parser.add_argument("--million", action="store_true", help="same as --subscribers 1000000")
    parser.add_argument(
        "--workers",
        type=parse_workers,
        default=[2],
        metavar="K[,K...]",
        help="worker processes (default 2); a list such as 1,2 runs one round per count, "
        "each with a fresh fan-out of the same subscribers",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=20,
        metavar="C",
        help="MAILER_SMTP_CONCURRENCY per worker, and the bare aiosmtplib ceiling's "
        "connections (default 20)",
    )
    parser.add_argument(
        "--claim-batch",
        type=int,
        default=None,
        metavar="B",
        help="MAILER_CLAIM_BATCH (default: the engine's own)",
    )
    parser.add_argument(
        "--skip-ceilings", action="store_true", help="measure the engine alone (faster)"
    )
    parser.add_argument(
        "--source-messages",
        type=int,
        default=40_000,
        metavar="M",
        help="messages smtp-source sends for its ceiling (default 40000)",
    )
    parser.add_argument(
        "--source-sessions",
        type=int,
        default=20,
        metavar="S",
        help="smtp-source's parallel sessions (default 20)",
    )
    parser.add_argument(
        "--bare-messages",
        type=int,
        default=15_000,
        metavar="M",
        help="messages bare aiosmtplib sends for its ceiling (default 15000)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="give up on a round that has not delivered everything by then "
        "(default: 900, or N/250 if longer)",
    )
    # The bare aiosmtplib ceiling runs in a process of its own: this script, in this mode.
    parser.add_argument("--bare-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--message-file", type=Path, help=argparse.SUPPRESS)
    return parser


# ---------------------------------------------------------------- the bare aiosmtplib ceiling


async def bare_aiosmtplib(port: int, data: bytes, concurrency: int, count: int) -> dict[str, Any]:
    """Pre-built bytes over `concurrency` reused connections, nothing else per message."""
    clients = [
        aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30) for _ in range(concurrency)
    ]
    await asyncio.gather(*(client.connect() for client in clients))
    remaining = count

    async def send_all(client: aiosmtplib.SMTP) -> int:
        nonlocal remaining
        sent = 0
        while remaining > 0:
            remaining -= 1
            await client.sendmail(CEILING_FROM, [CEILING_TO], data)
            sent += 1
        return sent

    cpu0, wall0 = time.process_time(), time.perf_counter()
    async with asyncio.timeout(600):
        sent = sum(await asyncio.gather(*(send_all(client) for client in clients)))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    await asyncio.gather(*(client.quit() for client in clients), return_exceptions=True)
    return {
        "sent": sent,
        "seconds": wall,
        "cpu_seconds": cpu,
        "loop": type(asyncio.get_running_loop()).__module__,
    }


def bare_child(args: argparse.Namespace) -> int:
    data = args.message_file.read_bytes()
    result = uvloop.run(bare_aiosmtplib(args.port, data, args.concurrency, args.bare_messages))
    print(json.dumps(result), flush=True)
    return 0


# ---------------------------------------------------------------- ceilings


@dataclass
class Ceiling:
    name: str
    sent: int
    seconds: float
    cpu_seconds: float  # of the client
    sink_cores: float
    neighbour_cores: float  # used by processes not part of the measurement
    detail: str

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_client(
    args: list[str], sink: common.SmtpSink, what: str
) -> tuple[bytes, common.CpuWindow, float, float]:
    """Run a ceiling's client to its end: (stdout, the CPU window, its wall seconds, the
    client's own CPU seconds, startup included)."""
    cpu0, wall0 = children_cpu(), time.perf_counter()
    with common.CpuWindow() as cpu:
        process = common.spawn(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = process.communicate(timeout=660)
        except subprocess.TimeoutExpired:
            common.stop_process(process, grace=2)
            raise RuntimeError(f"{what} did not finish in 660 s") from None
    wall, client_cpu = time.perf_counter() - wall0, children_cpu() - cpu0
    if process.returncode != 0:
        raise RuntimeError(f"{what} failed ({process.returncode}): {err.decode()[-500:]}")
    return out, cpu, wall, client_cpu


def neighbour_cores(cpu: common.CpuWindow, sink: common.SmtpSink, client_cpu: float) -> float:
    parts, _ = attribute_cpu(cpu, [], sink.pid)
    return max(neighbours(parts, cpu.seconds) - client_cpu / cpu.seconds, 0.0)


def smtp_source_ceiling(
    sink: common.SmtpSink, message_lf: Path, count: int, sessions: int
) -> Ceiling:
    binary = common.postfix_tool("smtp-source")
    args = [
        str(binary),
        "-d",  # reuse each connection for the next message
        "-s", str(sessions),
        "-m", str(count),
        "-F", str(message_lf),
        "-f", CEILING_FROM,
        "-t", CEILING_TO,
        f"127.0.0.1:{sink.port}",
    ]  # fmt: skip
    log(f"ceiling: smtp-source, {count} messages over {sessions} sessions")
    _, cpu, wall, client_cpu = run_client(args, sink, "smtp-source")
    return Ceiling(
        name="smtp-source -> smtp-sink",
        sent=count,
        seconds=wall,
        cpu_seconds=client_cpu,
        sink_cores=cpu.used_by([sink.pid]) / cpu.seconds,
        neighbour_cores=neighbour_cores(cpu, sink, client_cpu),
        detail=f"{sessions} sessions, reused connections (-d), the message from a file (-F)",
    )


def bare_ceiling(sink: common.SmtpSink, message: Path, count: int, concurrency: int) -> Ceiling:
    log(f"ceiling: bare aiosmtplib on uvloop, {count} messages over {concurrency} connections")
    args = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--bare-child",
        "--port", str(sink.port),
        "--message-file", str(message),
        "--concurrency", str(concurrency),
        "--bare-messages", str(count),
    ]  # fmt: skip
    out, cpu, _, client_cpu = run_client(args, sink, "the bare aiosmtplib ceiling")
    result = json.loads(out.decode().strip().splitlines()[-1])
    return Ceiling(
        name="bare aiosmtplib -> smtp-sink",
        sent=int(result["sent"]),
        seconds=float(result["seconds"]),  # the sending alone, without start-up
        cpu_seconds=float(result["cpu_seconds"]),
        sink_cores=cpu.used_by([sink.pid]) / cpu.seconds,
        neighbour_cores=neighbour_cores(cpu, sink, client_cpu),
        detail=f"one process, {result['loop']} loop, {concurrency} reused connections, "
        f"aiosmtplib {aiosmtplib.__version__}",
    )


# ---------------------------------------------------------------- subscribers and the message


def subscriber_records(n: int) -> Iterator[tuple[str, str, str | None, str]]:
    for i in range(n):
        email = f"reader{i}@{DOMAINS[i % len(DOMAINS)]}"
        yield email, email.lower(), NAMES[i % len(NAMES)], "active"


async def load_subscribers(pool: asyncpg.Pool, n: int) -> float:
    started = time.perf_counter()
    async with pool.acquire() as conn:
        await conn.copy_records_to_table(
            "subscribers",
            records=subscriber_records(n),
            columns=["email", "email_key", "name", "status"],
        )
    seconds = time.perf_counter() - started
    async with pool.acquire() as conn:
        await conn.execute("VACUUM ANALYZE subscribers")
    return seconds


def sample_delivery(mailing_id: int, i: int) -> ClaimedDelivery:
    return ClaimedDelivery(
        delivery_id=i + 1,
        mailing_id=mailing_id,
        subscriber_id=i + 1,
        kind="digest",
        recipient=f"reader{i}@{DOMAINS[i % len(DOMAINS)]}",
        payload=None,
        item_ids=None,
        attempts=1,
        created_at=datetime.now(UTC),
        name=NAMES[i % len(NAMES)],
        key_version=1,
        plain_text_only=False,
    )


async def sample_message(pool: asyncpg.Pool, settings: Settings) -> tuple[bytes, float]:
    """One recipient's message as the engine builds it (a draft mailing of the same content,
    composed by mailer.delivery.compose), and the in-process cost of composing one message."""
    async with pool.acquire() as conn:
        mailing_id = await mailings.create_mailing(
            conn,
            kind="digest",
            subject=SUBJECT,
            list_id=LIST_ID,
            content=sample_digest_content(ITEMS_PER_TOPIC, BASE_URL),
        )
    composer = Composer(pool, settings)
    outgoing = await composer.compose(sample_delivery(mailing_id, 4))
    count = 3000
    deliveries = [sample_delivery(mailing_id, i) for i in range(count)]
    started = time.process_time()
    for delivery in deliveries:
        await composer.compose(delivery)
    per_message = (time.process_time() - started) / count
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM mailings WHERE mailing_id = $1", mailing_id)
    return outgoing.data, per_message


# ---------------------------------------------------------------- one round of the engine


@dataclass
class Round:
    workers: int
    mailing_id: int = 0
    fanout_rows: int = 0
    fanout_seconds: float = 0.0
    total: int = 0
    sent: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    window_seconds: float = 0.0  # min(sent_at) .. max(sent_at)
    from_fanout_seconds: float = 0.0  # end of start_sending .. max(sent_at)
    peak_rss: list[int] = field(default_factory=list)  # VmHWM per worker
    start_rss: list[int] = field(default_factory=list)  # RSS when sending began
    cpu: common.CpuWindow = field(default_factory=common.CpuWindow)  # the polling window
    worker_cpu: list[float] = field(default_factory=list)  # seconds, in the polling window
    cpu_parts: dict[str, float] = field(default_factory=dict)  # seconds per part
    cpu_others: list[tuple[str, float]] = field(default_factory=list)  # the busiest others
    db_rows: int = 0  # pg_stat_database tuples written, fan-out and sending
    db_commits: int = 0
    progress_seconds: list[float] = field(default_factory=list)
    exit_codes: list[int | None] = field(default_factory=list)
    timed_out: bool = False
    rss_growth: list[int] = field(default_factory=list)  # last 3/4 of the sending, per worker

    @property
    def rate(self) -> float:
        return self.sent / self.window_seconds if self.window_seconds > 0 else 0.0


def worker_env(
    base: dict[str, str],
    *,
    database_url: str,
    sink_url: str,
    data_dir: Path,
    secret: str,
    concurrency: int,
    claim_batch: int | None,
) -> dict[str, str]:
    env = {k: v for k, v in base.items() if not k.startswith("MAILER_")}
    env.update(
        MAILER_ENV="production",
        MAILER_DATABASE_URL=database_url,
        MAILER_SMTP_URL=sink_url,
        MAILER_SECRET_KEY=secret,
        MAILER_DATA_DIR=str(data_dir),
        MAILER_DOTENV=os.devnull,
        MAILER_SMTP_CONCURRENCY=str(concurrency),
        MAILER_FROM=FROM,
        MAILER_BASE_URL=BASE_URL,
        MAILER_POSTAL_ADDRESS="Health News, 1 Example Street, 1000 Example City",
        MAILER_ORGANISATION="Health News",
        MAILER_LOG_LEVEL="WARNING",
        MAILER_WORKERS="1",
    )
    if claim_batch is not None:
        env["MAILER_CLAIM_BATCH"] = str(claim_batch)
    return env


async def pg_counters(pool: asyncpg.Pool) -> tuple[int, int]:
    row = await pool.fetchrow(
        "SELECT tup_inserted + tup_updated + tup_deleted AS rows, xact_commit "
        "FROM pg_stat_database WHERE datname = current_database()"
    )
    assert row is not None
    return int(row["rows"]), int(row["xact_commit"])


async def wait_workers_ready(
    pool: asyncpg.Pool, processes: list[subprocess.Popen[bytes]], logs: list[Path]
) -> None:
    """Each worker holds a LISTEN connection once its delivery loop runs."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for process, log_file in zip(processes, logs, strict=True):
            if process.poll() is not None:
                tail = log_file.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"worker {process.pid} exited ({process.returncode}):\n{tail}")
        listening = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND query ILIKE 'LISTEN %'"
        )
        if listening >= len(processes):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the workers were not listening after 60 s")


_UNFINISHED = """
SELECT EXISTS (SELECT 1 FROM deliveries WHERE mailing_id = $1 AND status IN ('queued', 'deferred'))
    OR EXISTS (SELECT 1 FROM deliveries WHERE mailing_id = $1 AND status = 'sending')
"""


def attribute_cpu(
    cpu: common.CpuWindow, workers: list[int], sink: int, database: str = ""
) -> tuple[dict[str, float], list[tuple[str, float]]]:
    """CPU seconds per part (workers, PostgreSQL, smtp-sink, this script, others) and the
    other processes that used the most: a busy neighbour depresses every figure."""
    parts = dict.fromkeys(("workers", "PostgreSQL", "smtp-sink", "bench", "other"), 0.0)
    others: dict[str, float] = {}
    for pid, used in cpu.deltas.items():
        title = used.name
        if pid in workers:
            part = "workers"
        elif pid == sink:
            part = "smtp-sink"
        elif pid == os.getpid():
            part = "bench"
        elif title.startswith(("postgres", "/usr/lib/postgresql")) and (
            (database and database in title) or "(" not in title  # ours, or the server's own
        ):
            part = "PostgreSQL"
        else:
            part = "other"
            key = common.short_name(title, 50)
            others[key] = others.get(key, 0.0) + used.cpu
        parts[part] += used.cpu
    parts["exited"] = cpu.exited()
    parts["irq/softirq/steal"] = cpu.kernel
    top = sorted(others.items(), key=lambda kv: -kv[1])[:3]
    return parts, top


def neighbours(parts: dict[str, float], seconds: float) -> float:
    """Cores used by processes that are not part of the measurement (exited ones included:
    a test suite running beside the benchmark starts and ends many)."""
    return (parts["other"] + parts["exited"]) / max(seconds, 1e-9)


async def engine_round(
    pool: asyncpg.Pool,
    env: dict[str, str],
    sink: common.SmtpSink,
    workers: int,
    tmp: Path,
    timeout: float,
) -> Round:
    result = Round(workers=workers)
    async with pool.acquire() as conn:
        await conn.execute("TRUNCATE deliveries CASCADE")
        await conn.execute("VACUUM ANALYZE deliveries")
        await conn.execute("CHECKPOINT")
        result.mailing_id = await mailings.create_mailing(
            conn,
            kind="digest",
            subject=SUBJECT,
            list_id=LIST_ID,
            content=sample_digest_content(ITEMS_PER_TOPIC, BASE_URL),
        )
    logs = [tmp / f"worker-{workers}-{i}.log" for i in range(workers)]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for log_file in logs:
            with log_file.open("wb") as handle:
                processes.append(
                    common.spawn(
                        [sys.executable, *WORKER_COMMAND],
                        env=env,
                        stdout=handle.fileno(),
                        stderr=subprocess.STDOUT,
                        cwd=tmp,
                    )
                )
        await wait_workers_ready(pool, processes, logs)
        pids = [p.pid for p in processes]
        log(f"{workers} worker process(es) ready: pids {pids}")
        rows0, commits0 = await pg_counters(pool)
        with common.RssSampler(pids, interval=POLL_INTERVAL) as rss:
            started = time.time()
            result.fanout_rows = await support_mailings.start_sending(pool, result.mailing_id)
            fanout_end = time.time()
            result.fanout_seconds = fanout_end - started
            log(f"fan-out: {result.fanout_rows} deliveries in {result.fanout_seconds:.2f} s")
            result.start_rss = [psutil.Process(pid).memory_info().rss for pid in pids]
            cpu = common.CpuWindow().start()
            wall0 = time.monotonic()
            deadline = wall0 + timeout
            every = PROGRESS_INTERVAL * max(1.0, result.fanout_rows / 100_000)
            next_progress = wall0 + every
            last_done, last_report = 0, wall0
            while True:
                await asyncio.sleep(POLL_INTERVAL)
                now = time.monotonic()
                if not await pool.fetchval(_UNFINISHED, result.mailing_id):
                    break
                dead = [p for p in processes if p.poll() is not None]
                if dead:
                    raise RuntimeError(f"worker {dead[0].pid} exited ({dead[0].returncode})")
                if now >= deadline:
                    log(f"giving up after {timeout:.0f} s: not every delivery is done")
                    result.timed_out = True
                    break
                if now >= next_progress:
                    next_progress = now + every
                    asked = time.perf_counter()
                    progress = await mailings.progress(pool, result.mailing_id)
                    result.progress_seconds.append(time.perf_counter() - asked)
                    rss_now = ", ".join(mib(rss.last.get(pid, 0)) for pid in pids)
                    rate = (progress.done - last_done) / (now - last_report)
                    last_done, last_report = progress.done, now
                    log(
                        f"  {progress.done}/{progress.total} done, {rate:.0f}/s since the last "
                        f"report (progress() says {progress.rate_per_second:.0f}/s), RSS {rss_now}"
                    )
            cpu.stop()
            result.cpu = cpu
            result.worker_cpu = [cpu.used_by([pid]) for pid in pids]
            database = await pool.fetchval("SELECT current_database()")
            result.cpu_parts, result.cpu_others = attribute_cpu(cpu, pids, sink.pid, database)
            result.peak_rss = [common.peak_rss_bytes(pid) for pid in pids]
            result.rss_growth = [rss_growth(rss.samples.get(pid, []), wall0) for pid in pids]
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        result.exit_codes = [common.stop_process(p, grace=30) for p in processes]
    rows1, commits1 = await pg_counters(pool)
    result.db_rows, result.db_commits = rows1 - rows0, commits1 - commits0
    progress = await mailings.progress(pool, result.mailing_id)
    result.total = progress.total
    result.counts = {status.value: n for status, n in progress.counts.items() if n}
    window = await pool.fetchrow(
        "SELECT count(*) AS sent, min(sent_at) AS first, max(sent_at) AS last "
        "FROM deliveries WHERE mailing_id = $1 AND status = 'sent'",
        result.mailing_id,
    )
    assert window is not None
    result.sent = int(window["sent"])
    if result.sent:
        result.window_seconds = (window["last"] - window["first"]).total_seconds()
        result.from_fanout_seconds = window["last"].timestamp() - fanout_end
    return result


# ---------------------------------------------------------------- the report


def rss_growth(samples: list[tuple[float, int]], began: float) -> int:
    """How much the RSS grew from a quarter of the way through the sending to its end: the
    first quarter warms up (buffers, caches, the compiled mailing); after it, a worker that
    keeps nothing per recipient stays flat however many there are."""
    sending = [(t, rss) for t, rss in samples if t >= began]
    if len(sending) < 4:
        return 0
    quarter = sending[0][0] + (sending[-1][0] - sending[0][0]) / 4
    at_quarter = next(rss for t, rss in sending if t >= quarter)
    return max(rss for t, rss in sending if t >= quarter) - at_quarter


def report_round(r: Round, ceilings: dict[str, Ceiling], n: int, settings: Settings) -> None:
    msgs = max(r.sent, 1)
    window = r.cpu.seconds
    rows: list[tuple[str, str]] = [
        ("mailing", f"{r.total:,} deliveries: {r.counts}"
         + (" (TIMED OUT)" if r.timed_out else "")),
        ("fan-out (start_sending)", f"{r.fanout_seconds:.2f} s for {r.fanout_rows:,} deliveries "
         f"({r.fanout_rows / r.fanout_seconds:,.0f} rows/s)"),
        ("end to end", f"{r.rate:,.0f} msg/s ({r.sent:,} sent between the first and the last "
         f"sent_at, {r.window_seconds:.1f} s)"),
        ("from fan-out end", f"{r.sent / r.from_fanout_seconds:,.0f} msg/s "
         f"(last sent {r.from_fanout_seconds:.1f} s after start_sending returned)"
         if r.from_fanout_seconds > 0 else "-"),
    ]  # fmt: skip
    for ceiling in ceilings.values():
        rows.append((f"ratio to {ceiling.name}", pct(r.rate / ceiling.rate)))
    parts = ", ".join(f"{name} {used / window:.2f}" for name, used in r.cpu_parts.items())
    others = "; ".join(f"{name} {used / window:.2f}" for name, used in r.cpu_others)
    rows += [
        ("peak RSS per worker (VmHWM)", ", ".join(mib(x) for x in r.peak_rss)),
        ("RSS when sending began", ", ".join(mib(x) for x in r.start_rss)),
        ("RSS growth, last 3/4 of sending", ", ".join(mib(x) for x in r.rss_growth)),
        ("worker CPU per message sent", f"{1000 * sum(r.worker_cpu) / msgs:.2f} ms "
         f"(per worker: {', '.join(f'{c:.1f} s' for c in r.worker_cpu)})"),
        ("CPU while sending (cores)", f"{r.cpu.busy / window:.2f} of {os.cpu_count()} busy "
         f"over {window:.1f} s: {parts}"),
        ("busiest other processes", others or "none"),
        ("database rows/s", f"{2 * r.sent / r.window_seconds:,.0f} delivery rows written/s while "
         f"sending (claim + mark per mail)" if r.window_seconds else "-"),
        ("PostgreSQL counters", f"{r.db_rows:,} tuples written, {r.db_commits:,} commits "
         f"(fan-out + sending; {r.db_commits / max(r.window_seconds, 1e-9):,.0f} commits/s)"),
        ("progress() query", f"{1000 * max(r.progress_seconds):.0f} ms at most, "
         f"{1000 * sum(r.progress_seconds) / len(r.progress_seconds):.0f} ms on average"
         if r.progress_seconds else "-"),
        ("workers' exit codes", ", ".join(str(c) for c in r.exit_codes)),
    ]  # fmt: skip
    print_table(
        f"engine: {r.workers} worker process(es) x {settings.smtp_concurrency} SMTP connections, "
        f"claim batch {settings.claim_batch}, {n:,} subscribers",
        rows,
    )
    warn_neighbours(neighbours(r.cpu_parts, window), "this round")


def warn_neighbours(cores: float, what: str) -> None:
    if cores > 0.10:
        print(
            f"  WARNING: other processes used {cores:.2f} cores during {what}; "
            "the figures are depressed by them"
        )


def report_targets(rounds: list[Round], ceilings: dict[str, Ceiling], n: int) -> None:
    bare, source = ceilings.get("bare"), ceilings.get("source")
    rows: list[tuple[str, str]] = []
    targets: list[str] = []
    one = next((r for r in rounds if r.workers == 1), None)
    if one is None or bare is None:
        why = "needs --workers 1" if one is None else "needs the ceilings"
        rows.append((f"{mark(None)} one worker >= 75 % of bare aiosmtplib", why))
    else:
        ratio = one.rate / bare.rate
        rows.append(
            (
                f"{mark(ratio >= TARGET_ONE_WORKER)} one worker >= 75 % of bare aiosmtplib",
                f"{pct(ratio)} ({one.rate:,.0f} vs {bare.rate:,.0f} msg/s)",
            )
        )
    best = max(rounds, key=lambda r: r.rate)
    if source is None:
        rows.append((f"{mark(None)} deployment >= 70 % of smtp-source", "needs the ceilings"))
        targets.append("TARGET end to end vs smtp-source -> smtp-sink: n/a (--skip-ceilings)")
    else:
        ratio = best.rate / source.rate
        rows.append(
            (
                f"{mark(ratio >= TARGET_DEPLOYMENT)} deployment >= 70 % of smtp-source",
                f"{pct(ratio)} with {best.workers} worker(s) "
                f"({best.rate:,.0f} vs {source.rate:,.0f} msg/s)",
            )
        )
        targets.append(
            f"TARGET end to end vs smtp-source -> smtp-sink ({best.workers} workers): "
            f"{pct(ratio)} vs >= {pct(TARGET_DEPLOYMENT)} {verdict(ratio >= TARGET_DEPLOYMENT)}"
        )
    fanout = max(r.fanout_seconds for r in rounds)
    if n >= 1_000_000:
        rows.append(
            (
                f"{mark(fanout <= TARGET_FANOUT_1M)} fan-out of 1,000,000 <= 15 s",
                f"{fanout:.2f} s for {n:,}",
            )
        )
    else:
        projected = fanout * 1_000_000 / n
        rows.append(
            (
                f"{mark(None)} fan-out of 1,000,000 <= 15 s",
                f"needs --million; {fanout:.2f} s for {n:,}, "
                f"{projected:.1f} s if linear ({'within' if projected <= 15 else 'over'} target)",
            )
        )
    peak = max(max(r.peak_rss) for r in rounds)
    growth = max(max(r.rss_growth) for r in rounds)
    rows.append(
        (
            f"{mark(peak <= TARGET_RSS)} peak RSS of a worker <= 80 MB",
            f"{mib(peak)} at {n:,} subscribers; flat from 100k to 1M: compare the "
            "--subscribers 100000 and --million runs",
        )
    )
    rows.append(
        (
            f"{mark(growth <= TARGET_RSS_GROWTH)} RSS flat while sending",
            f"grew {mib(growth)} at most over the last 3/4 of the sending (<= 2 MB)",
        )
    )
    print_table("targets", rows)
    targets.append(
        f"TARGET peak worker RSS at {n:,} recipients: {mib(peak)} vs <= {mib(TARGET_RSS)} "
        f"{verdict(peak <= TARGET_RSS)}"
    )
    targets.append(
        f"TARGET worker RSS growth over the last 3/4 of {n:,} recipients: {mib(growth)} vs "
        f"<= {mib(TARGET_RSS_GROWTH)} {verdict(growth <= TARGET_RSS_GROWTH)}"
    )
    print()
    for line in targets:
        print(line)


# ---------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> int:
    n: int = 1_000_000 if args.million else args.subscribers
    timeout: float = args.timeout or max(900.0, n / 250)
    began = time.monotonic()
    info = common.machine_info()
    sink_binary = common.postfix_tool("smtp-sink")
    common.postfix_tool("smtp-source")
    with (
        tempfile.TemporaryDirectory(prefix="mailer-bench-") as tmp_name,
        common.smtp_sink() as sink,
    ):
        tmp = Path(tmp_name)
        log(f"{sink_binary} listening on 127.0.0.1:{sink.port} (pid {sink.pid})")
        async with common.throwaway_database() as database_url:
            env = worker_env(
                dict(os.environ),
                database_url=database_url,
                sink_url=sink.url,
                data_dir=tmp,
                secret=secrets.token_urlsafe(48),
                concurrency=args.concurrency,
                claim_batch=args.claim_batch,
            )
            settings = load_settings(env, dotenv=False)
            pool = await open_pool(database_url, max_size=4)
            try:
                info["PostgreSQL"] = await common.server_version(database_url)
                info["Postfix"] = common.postfix_version()
                info["libraries"] = (
                    f"aiosmtplib {aiosmtplib.__version__}, asyncpg {asyncpg.__version__}, "
                    f"uvloop {version('uvloop')} (the workers run on uvloop.run)"
                )
                print_table("machine", info.items())

                log(f"loading {n:,} subscribers")
                copy_seconds = await load_subscribers(pool, n)
                data, compose_seconds = await sample_message(pool, settings)
                message = tmp / "message.eml"
                message.write_bytes(data)
                message_lf = tmp / "message.lf"
                message_lf.write_bytes(data.replace(b"\r\n", b"\n"))
                print_table(
                    "setup",
                    [
                        ("subscribers", f"{n:,} (COPY {copy_seconds:.2f} s, "
                         f"{n / copy_seconds:,.0f} rows/s)"),
                        ("message", f"{len(data):,} bytes (digest, {ITEMS_PER_TOPIC} items per "
                         "topic, multipart text + HTML, quoted-printable)"),
                        ("compose in process", f"{1e6 * compose_seconds:.0f} µs CPU per message "
                         "(mailer.delivery.compose.Composer.compose, warm cache)"),
                    ],
                )  # fmt: skip

                ceilings: dict[str, Ceiling] = {}
                if not args.skip_ceilings:
                    async with pool.acquire() as conn:
                        await conn.execute("CHECKPOINT")
                    ceilings["source"] = smtp_source_ceiling(
                        sink, message_lf, args.source_messages, args.source_sessions
                    )
                    ceilings["bare"] = bare_ceiling(
                        sink, message, args.bare_messages, args.concurrency
                    )
                    print_table(
                        "ceilings (same message bytes, same smtp-sink)",
                        [
                            (c.name, f"{c.rate:,.0f} msg/s ({c.sent} in {c.seconds:.1f} s; "
                             f"client {1000 * c.cpu_seconds / c.sent:.2f} ms CPU/msg, sink "
                             f"{c.sink_cores:.2f} cores; {c.detail})")
                            for c in ceilings.values()
                        ],
                    )  # fmt: skip
                    for c in ceilings.values():
                        warn_neighbours(c.neighbour_cores, f"the {c.name} ceiling")

                rounds: list[Round] = []
                for workers in args.workers:
                    log(f"round: {workers} worker process(es), {n:,} deliveries")
                    round_started = time.monotonic()
                    result = await engine_round(pool, env, sink, workers, tmp, timeout)
                    log(f"round done in {time.monotonic() - round_started:.0f} s")
                    rounds.append(result)
                    report_round(result, ceilings, n, settings)
                report_targets(rounds, ceilings, n)
            finally:
                await pool.close()
    print(f"\nbench/delivery finished in {time.monotonic() - began:.0f} s")
    return 0 if not any(r.timed_out for r in rounds) else 1


def main() -> int:
    args = build_parser().parse_args()
    if args.bare_child:
        return bare_child(args)

    def terminate(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through every cleanup

    signal.signal(signal.SIGTERM, terminate)
    return uvloop.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
