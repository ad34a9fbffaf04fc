"""Click redirects per second and their server time, beside a bare aiohttp redirect.

mailer (`mailer serve --role web`, production settings) answers `/r/{token}` for 50
different signed links of one mailing; the reference (bench/redirect_reference.py) answers
302 to a fixed URL with nothing else. Each server gets, in the same run:

1. a fixed rate of about --rate req/s (wrk with a per-connection delay) for --seconds: the
   server time at that rate (mailer: its own request histogram, so the share under 5 ms and
   the mean; the reference: a timer on the same span), and wrk's latency;
2. as fast as wrk can for --seconds: the ceiling in req/s.

Target: under 5 ms server time at 1,000 req/s. The clicks are counted (in memory, written
every second), so the database sees one UPSERT a second; the run checks the counts arrived.
wrk is installed from Debian if missing (root only).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import common
import uvloop
from common import log, print_table
from signup import Server, ensure_wrk, parse_wrk, started, wait_ready, wrk_version

from mailer.tokens import Signer

PYTHON = sys.executable
LINKS = 50
TARGET_MS = 5.0

# Thread k of n sends the paths k, k+n, ...; `delay` (ms between a connection's requests)
# sets the rate: connections * 1000 / delay req/s at most.
WRK_SCRIPT = r"""
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
local paths = {}
local n, i, pause = 0, 0, 0
bad, wraps, first_bad = 0, 0, ""
function init(args)
  local nthreads = tonumber(args[2])
  pause = tonumber(args[3])
  local k = 0
  for line in io.lines(args[1]) do
    if k % nthreads == id then
      n = n + 1
      paths[n] = line
    end
    k = k + 1
  end
end
function delay()
  return pause
end
function request()
  i = i % n + 1
  return wrk.format("GET", paths[i], {["User-Agent"] = "Mozilla/5.0 (X11; Linux) Firefox/133"})
end
function response(status, headers, body)
  if status ~= 302 and status ~= 200 then
    bad = bad + 1
    if first_bad == "" then first_bad = tostring(status) end
  end
end
function done(summary, latency, requests)
  local b, first = 0, ""
  for _, t in ipairs(threads) do
    b = b + t:get("bad")
    if first == "" then first = t:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT %d %d %d %d %d %d %d %d %d %.0f %.0f %.0f %.0f %.0f %.0f\n",
    summary.requests, summary.duration, b, 0, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
  if first ~= "" then io.write("WRK_FIRST_BAD " .. first .. "\n") end
end
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10, help="each measured phase (default 10)")
    parser.add_argument("--rate", type=int, default=1000, help="the fixed rate (default 1000)")
    parser.add_argument("--connections", type=int, default=50, help="for the ceiling (default 50)")
    return parser


@dataclass
class ServerTime:
    count: int
    mean_ms: float
    under_5ms: float  # share of requests
    p99_ms: float | None  # the reference's (exact); mailer's histogram gives the share only


async def wrk_run(wrk: str, script: Path, paths: Path, port: int, *, connections: int,
                  pause_ms: int, seconds: int) -> Any:  # fmt: skip
    threads = 2
    args = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
            "-s", str(script), f"http://127.0.0.1:{port}/", "--", str(paths), str(threads),
            str(pause_ms)]  # fmt: skip
    process = common.spawn(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.to_thread(process.communicate, timeout=seconds + 60)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {err.decode()[-2000:]}")
    return parse_wrk(out.decode())


_SAMPLE = re.compile(r"^mailer_http_request_duration_seconds_(bucket|sum|count)\{(.*?)\} (\S+)$")


async def mailer_histogram(session: aiohttp.ClientSession, port: int) -> dict[str, float]:
    async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and 'route="/r/{token}"' in match.group(2) and 'method="GET"' in match.group(2):
            le = re.search(r'le="([^"]+)"', match.group(2))
            key = f"le={le.group(1)}" if le else match.group(1)
            found[key] = float(match.group(3))
    return found


def mailer_time(before: dict[str, float], after: dict[str, float]) -> ServerTime:
    count = after.get("count", 0) - before.get("count", 0)
    total = after.get("sum", 0) - before.get("sum", 0)
    fast = after.get("le=0.005", 0) - before.get("le=0.005", 0)
    return ServerTime(int(count), total / count * 1000 if count else 0.0,
                      fast / count if count else 0.0, None)  # fmt: skip


async def reference_time(session: aiohttp.ClientSession, port: int) -> ServerTime:
    async with session.get(f"http://127.0.0.1:{port}/stats") as response:
        seconds = sorted((await response.json())["seconds"])
    if not seconds:
        return ServerTime(0, 0.0, 0.0, None)
    return ServerTime(
        len(seconds), sum(seconds) / len(seconds) * 1000,
        sum(s <= TARGET_MS / 1000 for s in seconds) / len(seconds),
        seconds[min(len(seconds) - 1, int(len(seconds) * 0.99))] * 1000,
    )  # fmt: skip


async def seed(database_url: str, secret: str) -> tuple[int, list[str]]:
    """A digest that started sending an hour ago, with LINKS items; their redirect paths."""
    conn = await asyncpg.connect(database_url)
    try:
        mailing_id = await conn.fetchval(
            "INSERT INTO mailings (kind, status, subject, list_id, started_at) VALUES "
            "('digest', 'sent', 'Bench digest', 'digest', now() - interval '1 hour') "
            "RETURNING mailing_id"
        )
        source = await conn.fetchval("SELECT source_id FROM feed_sources WHERE kind = 'push'")
        signer = Signer(secret)
        paths = []
        for n in range(LINKS):
            link = f"https://news.example.org/stories/{n}-bench"
            item_id = await conn.fetchval(
                "INSERT INTO items (source_id, guid, link, title, published_at, content_hash) "
                "VALUES ($1, $2, $3, $4, now(), '\\x00') RETURNING item_id",
                source, f"bench-{n}", link, f"Bench story {n}",
            )  # fmt: skip
            paths.append(f"/r/{signer.click_token(mailing_id, item_id, link)}")
        return mailing_id, paths
    finally:
        await conn.close()


@dataclass
class Figures:
    label: str
    steady: Any
    time: ServerTime
    ceiling: Any
    stack: Any = None  # mailer's /healthz ceiling: what its middleware costs without a click


async def measure(server: Server, wrk: str, script: Path, paths: Path, args: argparse.Namespace,
                  mailer: bool) -> Figures:  # fmt: skip
    port = server.port
    connections = 50
    # A connection waits `pause` ms after each answer: many connections with long pauses, so
    # that a few ms of latency on a busy machine lowers the rate little.
    pause = max(1, round(connections * 1000 / args.rate) - 1)
    async with aiohttp.ClientSession() as session:
        await wrk_run(wrk, script, paths, port, connections=connections, pause_ms=pause, seconds=3)
        if mailer:
            before = await mailer_histogram(session, port)
        else:
            await reference_time(session, port)  # forget the warm-up
        log(f"{server.label}: {args.rate} req/s for {args.seconds} s")
        steady = await wrk_run(wrk, script, paths, port, connections=connections,
                               pause_ms=pause, seconds=args.seconds)  # fmt: skip
        if mailer:
            timing = mailer_time(before, await mailer_histogram(session, port))
        else:
            timing = await reference_time(session, port)
        log(f"{server.label}: as fast as it goes, {args.connections} connections")
        ceiling = await wrk_run(wrk, script, paths, port, connections=args.connections,
                                pause_ms=0, seconds=args.seconds)  # fmt: skip
        stack = None
        if mailer:
            log(f"{server.label}: /healthz as fast as it goes (the stack without a click)")
            health = paths.with_name("healthz.txt")
            health.write_text("/healthz\n" * 4)
            stack = await wrk_run(wrk, script, health, port, connections=args.connections,
                                  pause_ms=0, seconds=args.seconds)  # fmt: skip
    return Figures(server.label, steady, timing, ceiling, stack)


def rows(f: Figures) -> list[tuple[str, str]]:
    t = f.time
    p99 = f"{t.p99_ms:.2f} ms" if t.p99_ms is not None else "(histogram: see the share)"
    return [
        ("fixed rate: req/s", f"{f.steady.rate:,.0f} ({f.steady.non202} not 302)"),
        ("  server time mean", f"{t.mean_ms:.2f} ms over {t.count:,} requests"),
        ("  server time <= 5 ms", f"{t.under_5ms:.1%}"),
        ("  server time p99", p99),
        ("  wrk latency p50 / p99", f"{f.steady.p50_ms:.2f} / {f.steady.p99_ms:.2f} ms"),
        ("ceiling: req/s", f"{f.ceiling.rate:,.0f} ({f.ceiling.non202} not 302)"),
        ("  wrk latency p50 / p99", f"{f.ceiling.p50_ms:.2f} / {f.ceiling.p99_ms:.2f} ms"),
    ] + (
        [("/healthz ceiling: req/s", f"{f.stack.rate:,.0f} (same middleware, no click)")]
        if f.stack is not None
        else []
    )


async def run(args: argparse.Namespace) -> int:
    wrk = ensure_wrk()
    print_table("machine", [*common.machine_info().items(), ("wrk", wrk_version(wrk))])
    with tempfile.TemporaryDirectory(prefix="bench-redirect-") as tmp_name:
        tmp = Path(tmp_name)
        script = tmp / "redirect.lua"
        script.write_text(WRK_SCRIPT)
        async with common.throwaway_database(prefix="mailer_bench_redirect") as database_url:
            secret = secrets.token_urlsafe(48)
            mailing_id, paths = await seed(database_url, secret)
            path_file = tmp / "paths.txt"
            path_file.write_text("\n".join(paths) + "\n")
            port = common.free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
            env.update(
                MAILER_ENV="production", MAILER_DATABASE_URL=database_url,
                MAILER_SMTP_URL="smtp://127.0.0.1:1", MAILER_LISTEN=f"127.0.0.1:{port}",
                MAILER_BASE_URL="https://news.example.org", MAILER_SECRET_KEY=secret,
                MAILER_FROM="Health News <news@health.example.org>",
                MAILER_POSTAL_ADDRESS="Health News, 1 Example Street, 1000 Example City",
                MAILER_DATA_DIR=str(tmp / "data"), MAILER_DOTENV=os.devnull,
                MAILER_LOG_LEVEL="WARNING",
            )  # fmt: skip
            command = [[PYTHON, "-m", "mailer", "serve", "--role", "web"]]
            async with started("mailer", command, env, tmp, port, ["mailer web"]) as server:
                await wait_ready(server, f"http://127.0.0.1:{port}/healthz")
                ours = await measure(server, wrk, script, path_file, args, mailer=True)
            counted = await counted_clicks(database_url, mailing_id)
            ref_port = common.free_port()
            reference = [[PYTHON, str(Path(__file__).with_name("redirect_reference.py")),
                          "--port", str(ref_port)]]  # fmt: skip
            async with started("bare aiohttp", reference, env, tmp, ref_port, ["bare"]) as bare:
                await wait_ready(bare, f"http://127.0.0.1:{ref_port}/stats")
                theirs = await measure(bare, wrk, script, path_file, args, mailer=False)
    print_table("mailer /r/{token}", rows(ours))
    print_table("bare aiohttp redirect (same run)", rows(theirs))
    sent = ours.steady.requests + ours.ceiling.requests
    print_table("verdict", [
        ("clicks counted / requests", f"{counted:,} / {sent:,} (plus the warm-up's)"),
        ("ceiling vs bare", f"{ours.ceiling.rate / theirs.ceiling.rate:.0%}"),
        ("ceiling vs mailer's /healthz", f"{ours.ceiling.rate / ours.stack.rate:.0%}"),
        (f"server time <= {TARGET_MS:g} ms at {args.rate} req/s",
         "yes" if ours.time.under_5ms >= 0.99 else f"no ({ours.time.under_5ms:.1%})"),
    ])  # fmt: skip
    return 0


async def counted_clicks(database_url: str, mailing_id: int) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        total: int = await conn.fetchval(
            "SELECT coalesce(sum(clicks + filtered), 0) FROM click_counts WHERE mailing_id = $1",
            mailing_id,
        )
        return total
    finally:
        await conn.close()


def main() -> int:
    args = build_parser().parse_args()
    started_at = time.monotonic()
    with contextlib.suppress(KeyboardInterrupt):
        code = uvloop.run(run(args))
        log(f"done in {time.monotonic() - started_at:.0f} s")
        return code
    return 130


if __name__ == "__main__":
    sys.exit(main())
