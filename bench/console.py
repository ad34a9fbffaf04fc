"""bench/console: the server time of every console page and API list at a million
subscribers and ten million delivery rows.

A throwaway database on the local PostgreSQL is migrated and seeded set-based
(bench/console_seed.sql: 1,000,000 subscribers with a realistic spread of statuses, topics,
series and consent entries, suppressions, bounces, ~300 sent digests and alerts sharing
10,000,000 delivery rows, clicks, imports), then VACUUM ANALYZEd. `mailer serve --role web`
runs against it with production settings; an admin editor is signed in (a session made as
the sign-in page makes it) and an API key is made.

Every GET route of the application (enumerated from the app mailer/web/routes.py builds, so
none is forgotten) is requested once to warm up, then --requests times, one at a time. A
page's server time is the growth of mailer's own request histogram
(mailer_http_request_duration_seconds, sum per route) across one request; the median of the
repeats is printed beside the client's time. Streams (exports, CSVs, the progress events)
are timed to their first byte, client-side, and closed. Routes that need a personal token
or a row the seed does not make are listed as skipped, with the reason.

Target: the slowest page's median under 200 ms. `--keep` keeps the seeded database
(mailer_bench_console) for the next run, which then only applies new migrations and
re-ANALYZEs; `--drop` removes it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import common
import uvloop
from common import log, print_table
from itsdangerous import URLSafeTimedSerializer
from signup import started, wait_ready

from mailer.accounts.api_keys import create_api_key
from mailer.accounts.editors import create_editor, start_session
from mailer.config import load_settings
from mailer.editorial import notices
from mailer.editorial.alerts import content as alert_content
from mailer.editorial.digests import refresh_content
from mailer.migrate import apply_migrations
from mailer.resources import migrations_dir
from mailer.web.app import create_app

PYTHON = sys.executable
HERE = Path(__file__).resolve().parent
KEPT = "mailer_bench_console"
TARGET_MS = 200.0
PASSWORD = "bench-console-password-0123"  # noqa: S105 -- a throwaway database
SOME = "kofi.ng"  # matches about one address in 99
OLD = "ng.1"  # its trigrams are common, its matches all old (ids 1..199,999)
NOBODY = "zzz"  # matches no address (bench/import's 2.3 s case)
NOBODY_COMMON = ".org."  # matches no address; its trigrams (word "org") 40 % of them

# GET routes not timed, and why. Everything else GET must be filled in by `paths` below.
SKIPPED = {
    "/static": "files from disk",
    "/confirm/{token}": "personal token page: one subscriber by key",
    "/preferences/{token}": "personal token page: one subscriber by key",
    "/preferences/{token}/data": "personal token page: one subscriber by key",
    "/preferences/{token}/erase": "personal token page: one subscriber by key",
    "/unsubscribe/{token}": "personal token page: one subscriber by key",
    "/unsubscribe/alerts/{token}": "personal token page: one subscriber by key",
    "/keep/{token}": "personal token page: one subscriber by key",
    "/r/{token}": "bench/redirect measures it",
    "/console/set-password/{token}": "an editor's one-time link",
}
# Answers other than 2xx/3xx that are what the page must say for the seeded rows.
EXPECTED = {
    "/api/v1/corrections/{correction_id}/preview": (409, "a correction with no notice to send"),
}
# Answers that stream: timed to the first byte, then closed.
STREAMS = re.compile(r"export|\.csv$|/rejects$|/events$")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--deliveries", type=int, default=10_000_000)
    parser.add_argument("--mailings", type=int, default=300, help="sent digests (default 300)")
    parser.add_argument("--requests", type=int, default=5, help="timed requests a page (5)")
    parser.add_argument("--keep", action="store_true", help=f"keep (and reuse) {KEPT}")
    parser.add_argument("--drop", action="store_true", help=f"drop {KEPT} and exit")
    parser.add_argument("--only", default="", help="time only routes containing this text")
    return parser


# ---------------------------------------------------------------- the database


async def seed(url: str, args: argparse.Namespace) -> float:
    """The seed in one transaction, with the deliveries' secondary indexes built after
    their rows and foreign-key triggers off (the rows are consistent by construction)."""
    sql = (
        (HERE / "console_seed.sql")
        .read_text()
        .format(subscribers=args.subscribers, deliveries=args.deliveries, mailings=args.mailings)
    )
    started_at = time.monotonic()
    conn = await asyncpg.connect(url, timeout=10)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            indexes = await conn.fetch(
                "SELECT i.relname, pg_get_indexdef(x.indexrelid) AS ddl FROM pg_index x "
                "JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid IN ('deliveries'::regclass, 'consent_events'::regclass) "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"
            )
            for row in indexes:
                await conn.execute(f'DROP INDEX "{row["relname"]}"')
            log(f"seeding {args.subscribers:,} subscribers, {args.deliveries:,} deliveries")
            await conn.execute(sql)
            log(f"rows in {time.monotonic() - started_at:.0f} s; building indexes")
            for row in indexes:
                await conn.execute(row["ddl"])
            await conn.execute("CREATE TABLE bench_seed (seeded_at timestamptz DEFAULT now())")
            await conn.execute("INSERT INTO bench_seed DEFAULT VALUES")
    finally:
        await conn.close()
    return time.monotonic() - started_at


async def analyze(url: str) -> float:
    started_at = time.monotonic()
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()
    return time.monotonic() - started_at


@contextlib.asynccontextmanager
async def database(args: argparse.Namespace) -> AsyncIterator[tuple[str, float | None]]:
    """(url, seconds the seed took, None when a kept one was reused)."""
    if not args.keep:
        async with common.throwaway_database(prefix="mailer_bench_console") as url:
            yield url, await seed(url, args)
        return
    admin = os.environ.get("MAILER_BENCH_DATABASE_URL") or common.LOCAL_POSTGRES
    url = common.with_database(admin, KEPT)
    conn = await asyncpg.connect(admin, timeout=10)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", KEPT)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{KEPT}"')
    finally:
        await conn.close()
    db = await asyncpg.connect(url, timeout=10)
    try:
        await apply_migrations(db, migrations_dir())
        seeded = await db.fetchval("SELECT to_regclass('bench_seed') IS NOT NULL")
    finally:
        await db.close()
    if seeded:
        log(f"reusing the seeded {KEPT} (--drop removes it)")
    yield url, None if seeded else await seed(url, args)


async def drop_kept() -> None:
    admin = os.environ.get("MAILER_BENCH_DATABASE_URL") or common.LOCAL_POSTGRES
    conn = await asyncpg.connect(admin, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{KEPT}" WITH (FORCE)')
    finally:
        await conn.close()


# ---------------------------------------------------------------- the pages


def mailer_env(url: str, port: int, tmp: Path, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILER_")}
    env.update(
        MAILER_ENV="production",
        MAILER_DATABASE_URL=url,
        MAILER_SMTP_URL="smtp://127.0.0.1:25",
        MAILER_LISTEN=f"127.0.0.1:{port}",
        MAILER_BASE_URL="https://news.example.org",
        MAILER_SECRET_KEY=secret,
        MAILER_WEBHOOK_SECRETS=secrets.token_urlsafe(32),
        MAILER_FROM="Health News <news@health.example.org>",
        MAILER_POSTAL_ADDRESS="Health News, 1 Example Street, 1000 Example City",
        MAILER_ORGANISATION="Health News",
        MAILER_DATA_DIR=str(tmp / "data"),
        MAILER_DOTENV=os.devnull,
        MAILER_LOG_LEVEL="WARNING",
        MAILER_WORKERS="1",
    )
    return env


def get_routes(env: dict[str, str]) -> list[str]:
    """Every GET route's pattern, as the running server's router holds them."""
    app = create_app(load_settings(env, dotenv=False), None)  # type: ignore[arg-type]
    found: list[str] = []

    def walk(application: object) -> None:
        for resource in application.router.resources():  # type: ignore[attr-defined]
            sub = getattr(resource, "_app", None)
            if sub is not None:
                walk(sub)
                continue
            if any(route.method == "GET" for route in resource):
                found.append(resource.canonical)

    walk(app)
    return list(dict.fromkeys(found))


async def ids(url: str) -> dict[str, str]:
    """A row of each kind for the pages that show one."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        one = await conn.fetchrow(
            """SELECT
            (SELECT max(mailing_id) FROM mailings WHERE kind = 'digest' AND status = 'sent')
                AS mailing_id,
            (SELECT max(mailing_id) FROM mailings WHERE kind = 'alert') AS alert_id,
            (SELECT max(subscriber_id) FROM subscribers WHERE status = 'active') AS subscriber_id,
            (SELECT slug FROM topics ORDER BY position LIMIT 1) AS topic,
            (SELECT series_id FROM series WHERE is_default) AS series_id,
            (SELECT max(import_id) FROM subscriber_imports) AS import_id,
            (SELECT max(report_id) FROM bounce_reports) AS report_id,
            (SELECT max(mi.item_id) FROM mailing_items mi JOIN mailings m USING (mailing_id)
             WHERE m.status = 'sent') AS item_id,
            (SELECT min(source_id) FROM feed_sources WHERE kind = 'feed') AS source_id,
            (SELECT max(correction_id) FROM corrections) AS correction_id,
            (SELECT max(campaign_id) FROM repermission_campaigns) AS campaign_id,
            (SELECT max(endpoint_id) FROM hook_endpoints) AS endpoint_id,
            (SELECT max(version_id) FROM mail_template_versions) AS version_id,
            (SELECT slug FROM mailings WHERE slug IS NOT NULL AND status = 'sent'
             ORDER BY started_at DESC LIMIT 1) AS slug,
            (SELECT email FROM subscribers WHERE status = 'active' LIMIT 1) AS email"""
        )
    finally:
        await conn.close()
    return {k: str(v) for k, v in one.items() if v is not None}


async def fill_contents(url: str, env: dict[str, str]) -> None:
    """The sent digests' and alerts' template context, made as sending made it (the seed
    leaves it empty)."""
    settings = load_settings(env, dotenv=False)
    conn = await asyncpg.connect(url, timeout=10)
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    try:
        async with conn.transaction():
            for row in await conn.fetch(
                "SELECT mailing_id FROM mailings WHERE kind = 'digest' AND status = 'sent' "
                "AND content = '{}'"
            ):
                await refresh_content(conn, settings, row["mailing_id"])
            for row in await conn.fetch(
                "SELECT a.mailing_id, a.item_id, m.slug FROM alerts a JOIN mailings m "
                "USING (mailing_id) WHERE m.content = '{}'"
            ):
                item = await conn.fetchrow(notices.Q["lock_item"], row["item_id"])
                body = alert_content(settings, item, row["slug"])
                await conn.execute(
                    "UPDATE mailings SET content = $2 WHERE mailing_id = $1",
                    row["mailing_id"], body,
                )  # fmt: skip
    finally:
        await conn.close()


def paths(route: str, found: dict[str, str]) -> list[tuple[str, str]]:
    """(label, path) to time for one route; [] when a row it needs was not seeded."""
    fill = dict(found)
    fill["slug"] = found["topic"] if route.startswith(("/console/topics", "/api/v1/topics")) \
        else found.get("slug", "")  # fmt: skip
    fill["kind"] = "digest"
    if "/alerts/" in route:
        fill["alert_id"] = found["alert_id"]
    try:
        path = route.format(**fill)
    except KeyError:
        return []
    extra: dict[str, list[tuple[str, str]]] = {
        "/console/subscribers": [
            (f"q={SOME} (some)", f"/console/subscribers?q={SOME}"),
            (f"q={NOBODY} (nobody)", f"/console/subscribers?q={NOBODY}"),
            (f"q={NOBODY_COMMON} (nobody)", f"/console/subscribers?q={NOBODY_COMMON}"),
            (f"q={OLD} (old only)", f"/console/subscribers?q={OLD}"),
            ("status=unsubscribed", "/console/subscribers?status=unsubscribed"),
            ("topic", f"/console/subscribers?topic={found['topic']}"),
        ],
        "/api/v1/subscribers": [
            (f"q={SOME} (some)", f"/api/v1/subscribers?q={SOME}"),
            (f"q={NOBODY} (nobody)", f"/api/v1/subscribers?q={NOBODY}"),
            (f"q={NOBODY_COMMON} (nobody)", f"/api/v1/subscribers?q={NOBODY_COMMON}"),
            (f"q={OLD} (old only)", f"/api/v1/subscribers?q={OLD}"),
            ("status+topic", f"/api/v1/subscribers?status=active&topic={found['topic']}"),
        ],
        "/api/v1/subscribers/data": [("", f"/api/v1/subscribers/data?email={found['email']}")],
        "/api/v1/suppressions": [("", "/api/v1/suppressions")],
    }
    if route in extra:
        plain = [] if route == "/api/v1/subscribers/data" else [("", path)]
        return plain + extra[route]
    return [("", path)]


@dataclass
class Timing:
    label: str
    route: str
    status: int
    server_ms: list[float]
    client_ms: list[float]
    first_byte: bool

    @property
    def figure(self) -> float:
        return statistics.median(self.client_ms if self.first_byte else self.server_ms)


_SAMPLE = re.compile(r"^mailer_http_request_duration_seconds_sum\{(.*?)\} (\S+)$")
_ROUTE = re.compile(r'route="(.*?)"')


async def server_sums(session: aiohttp.ClientSession, base: str) -> dict[str, float]:
    async with session.get(f"{base}/metrics") as response:
        text = await response.text()
    sums = {}
    for match in filter(None, map(_SAMPLE.match, text.splitlines())):
        route = _ROUTE.search(match.group(1))
        if route and 'method="GET"' in match.group(1):
            sums[route.group(1)] = float(match.group(2))
    return sums


async def one_request(
    session: aiohttp.ClientSession, base: str, path: str, headers: dict[str, str], stream: bool
) -> tuple[int, float]:
    started_at = time.perf_counter()
    async with session.get(base + path, headers=headers, allow_redirects=False) as response:
        if stream:
            await response.content.readany()
            elapsed = time.perf_counter() - started_at
            response.close()
            return response.status, elapsed * 1000
        await response.read()
        return response.status, (time.perf_counter() - started_at) * 1000


async def time_page(
    session: aiohttp.ClientSession, base: str, route: str, label: str, path: str,
    headers: dict[str, str], repeats: int,
) -> Timing:  # fmt: skip
    stream = bool(STREAMS.search(route))
    timing = Timing(label or path, route, 0, [], [], stream)
    status, _ = await one_request(session, base, path, headers, stream)  # warm-up
    for _ in range(repeats):
        if stream:
            await asyncio.sleep(0.2)  # the closed stream's handler ends
        before = (await server_sums(session, base)).get(route, 0.0)
        status, client = await one_request(session, base, path, headers, stream)
        after = (await server_sums(session, base)).get(route, 0.0)
        timing.client_ms.append(client)
        timing.server_ms.append((after - before) * 1000)
    timing.status = status
    return timing


async def sign_in(url: str, secret: str) -> tuple[str, str]:
    """(the console cookie's value, an admin API key)."""
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        email = f"bench-{secrets.token_hex(4)}@example.org"
        editor_id, _ = await create_editor(pool, email=email, role="admin", password=PASSWORD)
        token = await start_session(pool, editor_id, ip="127.0.0.1", user_agent="bench")
        async with pool.acquire() as conn:
            _, key = await create_api_key(conn, f"bench {email}", role="admin")
    finally:
        await pool.close()
    cookie = URLSafeTimedSerializer([secret], salt="mailer.console.session").dumps(token)
    return cookie, key


# ---------------------------------------------------------------- the run


async def run(args: argparse.Namespace) -> int:
    print_table("machine", common.machine_info().items())
    async with database(args) as (url, seeded):
        analysed = await analyze(url)
        conn = await asyncpg.connect(url, timeout=10)
        try:
            counts = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM subscribers) AS subscribers,"
                " (SELECT count(*) FROM deliveries) AS deliveries,"
                " (SELECT count(*) FROM mailings) AS mailings,"
                " (SELECT count(*) FROM consent_events) AS consent,"
                " pg_size_pretty(pg_database_size(current_database())) AS size"
            )
        finally:
            await conn.close()
        print_table("data", [
            ("subscribers", f"{counts['subscribers']:,}"),
            ("deliveries", f"{counts['deliveries']:,}"),
            ("mailings", f"{counts['mailings']:,}"),
            ("consent entries", f"{counts['consent']:,}"),
            ("database size", counts["size"]),
            ("seed", f"{seeded:.0f} s" if seeded is not None else f"reused {KEPT}"),
            ("VACUUM ANALYZE", f"{analysed:.0f} s"),
            ("PostgreSQL", await common.server_version(url)),
        ])  # fmt: skip
        secret = secrets.token_urlsafe(48)
        cookie, key = await sign_in(url, secret)
        found = await ids(url)
        with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp_name:
            tmp = Path(tmp_name)
            port = common.free_port()
            env = mailer_env(url, port, tmp, secret)
            routes = get_routes(env)
            await fill_contents(url, env)
            command = [PYTHON, "-m", "mailer", "serve", "--role", "web"]
            async with started("mailer", [command], env, tmp, port, ["web"]) as server:
                base = f"http://127.0.0.1:{port}"
                await wait_ready(server, f"{base}/healthz")
                timings, skipped = await time_all(base, routes, found, cookie, key, args)
                server.check_alive()
    return report(timings, skipped)


async def time_all(
    base: str, routes: list[str], found: dict[str, str], cookie: str, key: str,
    args: argparse.Namespace,
) -> tuple[list[Timing], list[tuple[str, str]]]:  # fmt: skip
    timings: list[Timing] = []
    skipped: list[tuple[str, str]] = []
    console = {"Cookie": f"mailer_console={cookie}"}
    api = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession() as session:
        for route in routes:
            if args.only and args.only not in route:
                continue
            reason = SKIPPED.get(route)
            todo = [] if reason else paths(route, found)
            if not todo:
                skipped.append((route, reason or "no such row seeded"))
                continue
            headers = api if route.startswith("/api/v1/") else console
            for label, path in todo:
                timing = await time_page(session, base, route, label, path, headers,
                                         args.requests)  # fmt: skip
                log(f"{timing.figure:8.1f} ms  {timing.status}  {timing.label}")
                timings.append(timing)
    return timings, skipped


def report(timings: list[Timing], skipped: list[tuple[str, str]]) -> int:
    print("\n== pages (median of the timed requests; server: mailer's request histogram) ==")
    print(f"  {'ms':>8}  {'client':>8}  status  page")
    for t in timings:
        kind = "first byte" if t.first_byte else ""
        server = statistics.median(t.server_ms)
        print(f"  {t.figure:8.1f}  {statistics.median(t.client_ms):8.1f}  {t.status:>6}  "
              f"{t.label}  {kind}{'' if t.first_byte else f' (server {server:.1f})'}")  # fmt: skip
    if skipped:
        print_table("not timed", skipped)
    bad = [t for t in timings if t.status >= 400 and EXPECTED.get(t.route, (0,))[0] != t.status]
    for t in bad:
        print(f"  !! {t.label} answered {t.status}")
    slowest = max(timings, key=lambda t: t.figure)
    verdict = "PASS" if slowest.figure < TARGET_MS and not bad else "FAIL"
    print(f"\nTARGET slowest page ({slowest.label}): {slowest.figure:.1f} ms vs < {TARGET_MS:.0f} "
          f"ms {verdict}")  # fmt: skip
    sys.stdout.flush()
    return 0


def main() -> int:
    args = build_parser().parse_args()
    if args.drop:
        uvloop.run(drop_kept())
        return 0
    started_at = time.monotonic()
    with contextlib.suppress(KeyboardInterrupt):
        code = uvloop.run(run(args))
        log(f"done in {time.monotonic() - started_at:.0f} s")
        return code
    return 130


if __name__ == "__main__":
    sys.exit(main())
