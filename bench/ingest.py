"""bench/ingest: items ingested per second from one big feed on loopback, and a second poll of
the same feed (all duplicates).

A separate process (this script with --serve) generates a realistic feed of N public-health
news items (RSS 2.0 by default, Atom or JSON Feed on request; ~1-2 KB per item with HTML
summaries full of relative links, images, scripts, styles, iframes, event handlers and
tracking pixels for the sanitiser to deal with) and serves it with aiohttp on 127.0.0.1,
without ETag or Last-Modified, so the second poll is a full 200 whose items are all
unchanged. This process runs the real code path on uvloop, as `mailer serve` does:
mailer.content.feeds.create_source + mailer.content.feeds.poll_now(pool, session, source_id,
allow_private=True) with mailer.fetch.make_session(allow_private=True), against a
throwaway, migrated database on the local PostgreSQL with topics and category rules.

The split of a poll's time comes from thin timing wrappers around the names mailer.content.feeds
calls (fetch, open_feed and its chunks, ItemBatch.add; parsing and storing overlap) and an
asyncpg query logger; beside it, in the same run and on the same bytes: mailer.fetch.fetch
alone, mailer.content.parse.parse_feed alone, the reader alone (fastfeed.read: lxml; json.loads
for JSON Feed), feedparser.parse alone and a bare COPY of the same rows.

Run it as `bench/ingest` (or `make bench-ingest`); see --help. Progress goes to stderr,
figures to stdout. Everything it starts (the feed server, py-spy, the database) it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import gzip
import hashlib
import html
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from importlib.metadata import version
from pathlib import Path
from random import Random
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import asyncpg
import common
import feedparser
import uvloop
from aiohttp import web
from common import log, print_table

from mailer import fetch as fetching
from mailer.audience.topics import create_topic
from mailer.content import fastfeed, feeds
from mailer.content import items as item_store
from mailer.content.parse import MAX_ITEMS, ParsedFeed, ParsedItem, parse_feed
from mailer.db import Connection, open_pool

PYTHON = sys.executable
SCRIPT = Path(__file__).resolve()
SEED = 20261120
CONTENT_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}
SITE = "https://health.example.gov"
TARGET_SECONDS = 5.0  # issue #23: 10,000 items in <= 5 s (>= 2,000 items/s), RSS and Atom

# ---------------------------------------------------------------- the feed

# Topics the benchmark creates, and the feed categories each one's rules map to it. Items
# also carry categories no rule maps ("Press Release", ...), as real feeds do.
TOPICS: dict[str, list[str]] = {
    "Overdose Prevention": ["Opioids", "Naloxone", "Fentanyl"],
    "Tobacco Control": ["Vaping", "Smoking"],
    "Environmental Health": ["Air Quality", "Extreme Heat", "Lead"],
    "Infectious Disease": ["Measles", "Vaccines", "Influenza"],
    "Mental Health": ["988", "Suicide Prevention"],
}
UNMAPPED = ["Press Release", "County News", "Data", "Events", "Media Advisory"]

PLACES = [
    ("Springfield", "Greene"), ("Riverside", "Marion"), ("Fairview", "Clay"),
    ("Georgetown", "Scott"), ("Salem", "Washington"), ("Madison", "Jefferson"),
    ("Clinton", "Franklin"), ("Ashland", "Boone"), ("Dover", "Kent"), ("Milford", "Wayne"),
]  # fmt: skip
AUTHORS = [
    "Office of Communications", "Dr. Amara Okafor", "José Martínez", "Priya Raman",
    "County Health Department", "Lena Schäfer", "Marcus O'Neill", "Newsroom Staff",
]  # fmt: skip


@dataclass(frozen=True)
class Theme:
    topic: str
    headlines: tuple[str, ...]
    sentences: tuple[str, ...]
    bullets: tuple[str, ...]


THEMES = (
    Theme(
        "Overdose Prevention",
        (
            "{county} County reports {n} suspected opioid overdoses in {month}",
            "Free naloxone vending machines open at {n} sites in {city}",
            "Fentanyl test strips now available at {city} libraries",
        ),
        (
            "Emergency departments in {county} County treated {n} people for suspected "
            "overdoses last month, a {p}% change from the same period a year ago.",
            "Health officials urge residents to carry naloxone, which can reverse an opioid "
            "overdose within minutes, and to call 911 right away.",
            "The state's Good Samaritan law protects people who seek help for someone who is "
            "overdosing from arrest for possession.",
            "Peer recovery specialists will staff the sites on weekdays from 9 a.m. to 5 p.m. "
            "and can connect people with treatment the same day.",
            "Provisional data show that {p}% of overdose deaths in {year} involved "
            "illicitly manufactured fentanyl, often mixed with other drugs.",
        ),
        (
            "Naloxone is free and no prescription is needed",
            "Never use alone: the hotline is 1-800-484-3731",
            "Treatment locator: findtreatment.gov",
        ),
    ),
    Theme(
        "Tobacco Control",
        (
            "Compliance checks find {p}% of {city} vape shops sold to minors",
            "{county} County board votes to end sales of flavoured tobacco",
            "Quitline calls rise {p}% after new warning campaign",
        ),
        (
            "Inspectors visited {n} retailers between March and September; those that sold to "
            "an underage buyer face fines of up to $1,000.",
            "Flavoured e-cigarettes remain the most common way young people start using "
            "nicotine, according to the latest youth tobacco survey.",
            "Free coaching and nicotine patches are available to every resident through the "
            "state quitline, in English, Spanish and Vietnamese.",
            "The ordinance takes effect on January 1 and applies to menthol cigarettes too.",
        ),
        (
            "Call 1-800-QUIT-NOW for free help",
            "Text QUIT to 47848",
            "Report a sale to a minor online",
        ),
    ),
    Theme(
        "Environmental Health",
        (
            "Heat advisory: cooling centres open across {city} through {weekday}",
            "Air quality alert issued as wildfire smoke reaches {county} County",
            "Lead found in {n} school drinking fountains; replacements under way",
        ),
        (
            "Temperatures are expected to reach {t} °F with heat index values above 105; "
            "older adults, infants and outdoor workers are at greatest risk.",
            "Fine particle pollution (PM2.5) is forecast to reach levels unhealthy for "
            "sensitive groups; keep windows closed and limit time outdoors.",
            "Parents can find test results for every school on the district's website; "
            "fountains above 5 parts per billion have been shut off.",
            "Check on neighbours, drink water before you feel thirsty and never leave children "
            "or pets in a parked car, even for a few minutes.",
        ),
        (
            "Cooling centres: libraries and recreation centres",
            "Sign up for air quality alerts",
            "Free blood lead testing for children under 6",
        ),
    ),
    Theme(
        "Infectious Disease",
        (
            "Measles case confirmed in {city}; exposure sites listed",
            "Flu season arrives early: {n} hospitalisations this week",
            "Back-to-school vaccine clinics at {n} locations in {county} County",
        ),
        (
            "Anyone who was at the listed locations during those hours and is not immune "
            "should watch for fever and rash for 21 days.",
            "Measles spreads through the air and can linger in a room for up to two hours "
            "after an infected person leaves.",
            "Everyone six months and older should get a flu vaccine; it is free at county "
            "clinics for people without insurance.",
            "Clinics offer all vaccines required for school entry, including MMR and Tdap, "
            "with no appointment needed.",
        ),
        (
            "Check your vaccination record online",
            "Call your doctor before visiting if you have symptoms",
            "Clinic hours: Monday to Saturday",
        ),
    ),
    Theme(
        "Mental Health",
        (
            "988 Lifeline answered {n} calls from {county} County in {month}",
            "New crisis stabilisation centre opens in {city}",
            "Schools add mental health days after student survey",
        ),
        (
            "Trained counsellors answer calls, texts and chats around the clock, in more than "
            "240 languages through interpreters.",
            "The centre offers a calm alternative to the emergency room for adults in crisis "
            "and accepts walk-ins at any hour.",
            "About {p}% of high school students reported persistent feelings of sadness or "
            "hopelessness in the most recent survey.",
        ),
        (
            "Call or text 988",
            "Chat at 988lifeline.org",
            "Veterans: press 1",
        ),
    ),
)
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Sunday"]


@dataclass(frozen=True)
class Story:
    guid: str
    link: str  # with utm_* parameters and sometimes a fragment, as feeds publish them
    title: str
    html: str
    author: str
    published: datetime
    categories: tuple[str, ...]
    image_url: str
    image_alt: str


def _fill(template: str, rng: Random, city: str, county: str, now: datetime) -> str:
    return template.format(
        city=city, county=county, n=rng.randint(3, 480), p=rng.randint(4, 71),
        month=rng.choice(MONTHS), year=now.year - 1, weekday=rng.choice(WEEKDAYS),
        t=rng.randint(96, 112),
    )  # fmt: skip


def story(i: int, rng: Random, now: datetime) -> Story:
    """One news item: ~1-2 KB with its HTML summary, deterministic for (seed, i)."""
    theme = THEMES[i % len(THEMES)]
    city, county = rng.choice(PLACES)
    title = _fill(rng.choice(theme.headlines), rng, city, county, now)
    slug = "-".join(w for w in "".join(c if c.isalnum() else " " for c in title.lower()).split())
    published = now - timedelta(minutes=rng.randint(5, 120 * 24 * 60))
    path = f"/news/{published:%Y/%m}/{slug[:60]}-{i}"
    fragment = "#main-content" if rng.random() < 0.2 else ""
    link = f"{SITE}{path}?utm_source=rss&utm_medium=feed&utm_campaign=newsroom{fragment}"
    image_path = f"/files/{published:%Y-%m}/{slug[:32]}.jpg"
    image_alt = title.split(":")[0]
    first, second, third = rng.sample(theme.sentences, 3)
    fill = lambda s: html.escape(_fill(s, rng, city, county, now), quote=False)  # noqa: E731
    e = html.escape
    lead = fill(first) + (" " + fill(second) if rng.random() < 0.5 else "")
    parts = [
        '<div class="field--body" style="line-height:1.5">',
        f"<p><strong>{e(city.upper())}</strong> &ndash; {lead}</p>",
    ]
    if rng.random() < 0.6:
        parts.append(
            f'<figure><img src="{image_path}" alt="{e(image_alt)}" width="800" height="450" '
            'onerror="this.remove()"><figcaption>Photo: county health</figcaption></figure>'
        )
    parts.append(
        f'<p>{fill(third)} <a href="{path}?utm_source=rss" target="_blank">Full release</a>, '
        f'<a href="../../data/{county.lower()}.html#latest">county data</a>.</p>'
    )
    bullets = "".join(f"<li>{e(b)}</li>" for b in rng.sample(theme.bullets, 2))
    parts.append(f'<ul class="checks">{bullets}</ul>')
    if rng.random() < 0.25:
        parts.append(f"<script>dataLayer.push({{'event':'rss','id':{i}}});</script>")
    if rng.random() < 0.15:
        parts.append("<style>.promo{color:#c00}</style>")
    if rng.random() < 0.1:
        parts.append(
            f'<iframe src="https://www.youtube-nocookie.com/embed/{rng.getrandbits(40):x}" '
            'width="560" height="315"></iframe>'
        )
    parts.append(
        '<p><span style="font-size:12px"><a href="mailto:press@health.example.gov">Press</a>'
        ' &middot; <a href="javascript:void(0)" onclick="share(this)">Share</a></span></p>'
    )
    if rng.random() < 0.4:
        parts.append(f'<!-- px --><img src="https://px.example.com/p.gif?i={i}" width="1">')
    parts.append("</div>")
    theme_categories = TOPICS[theme.topic]
    categories = (rng.choice(theme_categories), rng.choice(UNMAPPED))
    return Story(
        guid=f"health-example-gov-news-{i:06d}",
        link=link,
        title=title,
        html="".join(parts),
        author=rng.choice(AUTHORS),
        published=published,
        categories=categories,
        image_url=f"{SITE}{image_path}",
        image_alt=image_alt,
    )


def _rss(stories: Sequence[Story], now: datetime) -> str:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
        'xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:media="http://search.yahoo.com/mrss/">\n<channel>\n'
        "<title>County Health Department: News</title>\n"
        f"<link>{SITE}/newsroom</link>\n"
        "<description>News releases, health alerts and advisories</description>\n"
        "<language>en-us</language>\n"
        f"<lastBuildDate>{format_datetime(now)}</lastBuildDate>\n"
        f'<atom:link href="{SITE}/newsroom/rss.xml" rel="self" type="application/rss+xml"/>\n'
    ]
    x = xml_escape
    for s in stories:
        categories = "".join(f"<category>{x(c)}</category>" for c in s.categories)
        out.append(
            f"<item>\n<title>{x(s.title)}</title>\n<link>{x(s.link)}</link>\n"
            f'<guid isPermaLink="false">{s.guid}</guid>\n'
            f"<pubDate>{format_datetime(s.published)}</pubDate>\n"
            f"<dc:creator>{x(s.author)}</dc:creator>\n{categories}\n"
            f"<description><![CDATA[{s.html}]]></description>\n"
            f'<media:content url="{x(s.image_url)}" medium="image" type="image/jpeg" '
            'width="800" height="450"/>\n</item>\n'
        )
    out.append("</channel>\n</rss>\n")
    return "".join(out)


def _atom(stories: Sequence[Story], now: datetime) -> str:
    out = [
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
        'xml:lang="en-us">\n<title>County Health Department: News</title>\n'
        f'<link rel="alternate" type="text/html" href="{SITE}/newsroom"/>\n'
        f'<link rel="self" href="{SITE}/newsroom/atom.xml"/>\n'
        f"<id>{SITE}/newsroom</id>\n<updated>{now.isoformat()}</updated>\n"
    ]
    x = xml_escape
    for s in stories:
        categories = "".join(f'<category term="{x(c)}"/>' for c in s.categories)
        out.append(
            f'<entry>\n<title type="html">{x(s.title)}</title>\n'
            f'<link rel="alternate" type="text/html" href="{x(s.link)}"/>\n'
            f'<link rel="enclosure" type="image/jpeg" href="{x(s.image_url)}"/>\n'
            f"<id>tag:health.example.gov,2026:{s.guid}</id>\n"
            f"<published>{s.published.isoformat()}</published>\n"
            f"<updated>{s.published.isoformat()}</updated>\n"
            f"<author><name>{x(s.author)}</name></author>\n{categories}\n"
            f'<summary type="html">{x(s.html)}</summary>\n</entry>\n'
        )
    out.append("</feed>\n")
    return "".join(out)


def _json(stories: Sequence[Story], now: datetime) -> str:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "County Health Department: News",
        "home_page_url": f"{SITE}/newsroom",
        "feed_url": f"{SITE}/newsroom/feed.json",
        "language": "en-US",
        "items": [
            {
                "id": s.guid,
                "url": s.link,
                "title": s.title,
                "content_html": s.html,
                "image": s.image_url,
                "date_published": s.published.isoformat(),
                "date_modified": s.published.isoformat(),
                "authors": [{"name": s.author}],
                "tags": list(s.categories),
            }
            for s in stories
        ],
    }
    return json.dumps(feed, ensure_ascii=False, indent=1)


def build_feed(count: int, kind: str, seed: int = SEED) -> bytes:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    rng = Random(seed)
    stories = [story(i, rng, now) for i in range(count)]
    render = {"rss": _rss, "atom": _atom, "json": _json}[kind]
    return render(stories, now).encode()


# ---------------------------------------------------------------- the feed server (child)


def serve(args: argparse.Namespace) -> int:
    """The --serve child: build the feed, write it for the parent, answer GET /feed*."""
    body = build_feed(args.items, args.format)
    Path(args.out).write_bytes(body)
    payload = gzip.compress(body, 6) if args.gzip else body
    headers = {"Content-Type": CONTENT_TYPES[args.format], "Cache-Control": "max-age=60"}
    if args.gzip:
        headers["Content-Encoding"] = "gzip"

    async def feed(request: web.Request) -> web.Response:
        # No ETag, no Last-Modified: every poll gets the whole feed, as from many servers.
        return web.Response(body=payload, headers=headers)

    app = web.Application()
    app.router.add_get("/feed", feed)
    web.run_app(
        app, host="127.0.0.1", port=args.port, print=None, access_log=None,
        loop=uvloop.new_event_loop(),
    )  # fmt: skip
    return 0


@contextlib.contextmanager
def feed_server(args: argparse.Namespace, out: Path) -> Iterator[tuple[str, int]]:
    """The child serving the feed on 127.0.0.1; (its URL, its pid). Stopped on exit."""
    port = common.free_port()
    command = [
        PYTHON, str(SCRIPT), "--serve", "--port", str(port), "--out", str(out),
        "--items", str(args.items), "--format", args.format, *(["--gzip"] if args.gzip else []),
    ]  # fmt: skip
    process = common.spawn(command)
    try:
        common.wait_for_port(port, timeout=120)
        if process.poll() is not None:
            raise RuntimeError(f"the feed server exited with code {process.returncode}")
        yield f"http://127.0.0.1:{port}/feed", process.pid
    finally:
        common.stop_process(process, grace=10)


# ---------------------------------------------------------------- probes


@dataclass
class Probe:
    """What the timing wrappers and the query logger saw during one poll."""

    stages: dict[str, float] = field(default_factory=dict)
    queries: list[tuple[str, float]] = field(default_factory=list)

    def reset(self) -> None:
        self.stages.clear()
        self.queries.clear()

    def add(self, stage: str, seconds: float) -> None:
        self.stages[stage] = self.stages.get(stage, 0.0) + seconds

    def query_seconds(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for name, seconds in self.queries:
            totals[name] = totals.get(name, 0.0) + seconds
        return totals


QUERY_NAMES = {text: f"{concern}.{name}" for concern, queries in (
    ("feeds", feeds.Q), ("items", item_store.Q)) for name, text in queries.items()}  # fmt: skip
STORE_QUERIES = ("items.find_existing", "items.insert_items", "items.update_items")


@contextlib.contextmanager
def probes(probe: Probe, max_body: int) -> Iterator[None]:
    """Wrap the names mailer.content.feeds looks up at call time (fetch, open_feed and the chunks
    it hands out, ItemBatch.add); restore them on exit. The fetch wrapper also passes `max_body`
    (mailer's own limit unless the feed is larger). Parsing runs in a worker thread while the
    event loop stores the previous chunk, so "parse" and "store" overlap."""
    real_fetch, real_open, real_add = feeds.fetch, feeds.open_feed, item_store.ItemBatch.add

    async def fetch(*args: Any, **kwargs: Any) -> fetching.Fetched:
        kwargs.setdefault("max_body", max_body)
        started = time.perf_counter()
        try:
            return await real_fetch(*args, **kwargs)
        finally:
            probe.add("fetch", time.perf_counter() - started)

    def timed_chunks(chunks: Iterator[list[ParsedItem]]) -> Iterator[list[ParsedItem]]:
        while True:
            started, cpu = time.perf_counter(), time.thread_time()  # in the worker thread
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            finally:
                probe.add("parse", time.perf_counter() - started)
                probe.add("parse cpu", time.thread_time() - cpu)
            yield chunk

    def open_feed(
        body: bytes, content_type: str, base_url: str
    ) -> tuple[ParsedFeed, Iterator[list[ParsedItem]]]:
        started, cpu = time.perf_counter(), time.thread_time()  # runs in a worker thread
        try:
            feed, chunks = real_open(body, content_type, base_url)
        finally:
            probe.add("parse", time.perf_counter() - started)
            probe.add("parse cpu", time.thread_time() - cpu)
        return feed, timed_chunks(iter(chunks))

    async def add(
        self: item_store.ItemBatch, conn: Connection, parsed: Sequence[ParsedItem]
    ) -> None:
        started, cpu = time.perf_counter(), time.thread_time()  # the event loop's thread
        try:
            await real_add(self, conn, parsed)
        finally:
            probe.add("store", time.perf_counter() - started)
            probe.add("store cpu", time.thread_time() - cpu)

    feeds.fetch, feeds.open_feed = fetch, open_feed
    item_store.ItemBatch.add = add  # type: ignore[method-assign]
    try:
        yield
    finally:
        feeds.fetch, feeds.open_feed = real_fetch, real_open
        item_store.ItemBatch.add = real_add  # type: ignore[method-assign]


def query_label(text: str) -> str:
    """A statement not in mailer's .sql files: a transaction's or asyncpg's own."""
    if any(mark in text for mark in ("pg_catalog", "typeinfo", "pg_type", "'jit'")):
        return "asyncpg type introspection"
    if "pg_advisory_unlock_all" in text:
        return "asyncpg reset on pool release"
    return text.split()[0].rstrip(";").upper()[:30] if text.strip() else "?"


def query_logger(probe: Probe) -> Callable[[asyncpg.connection.LoggedQuery], None]:
    def record(entry: asyncpg.connection.LoggedQuery) -> None:
        name = QUERY_NAMES.get(entry.query) or query_label(entry.query)
        probe.queries.append((name, entry.elapsed))

    return record


def reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark of this process's RSS (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# ---------------------------------------------------------------- one round


@dataclass
class PollFigures:
    wall: float
    items: int  # in the feed, as parsed
    created: int
    updated: int
    unchanged: int
    error: str | None
    warning: str | None
    stages: dict[str, float]
    queries: dict[str, float]
    process_cpu: float
    postgres_cpu: float
    server_cpu: float
    machine_busy: float
    rss_before: int
    rss_peak: int
    rows_after: int

    @property
    def rate(self) -> float:
        return self.items / self.wall

    @property
    def other(self) -> float:
        known = sum(self.stages.get(s, 0.0) for s in ("fetch", "parse", "store"))
        return max(self.wall - known, 0.0)

    @property
    def store_python(self) -> float:
        in_db = sum(self.queries.get(q, 0.0) for q in STORE_QUERIES)
        return max(self.stages.get("store", 0.0) - in_db, 0.0)


@dataclass
class Round:
    first: PollFigures
    second: PollFigures
    feed_bytes: int
    fetch_alone: float
    parse_alone: float
    parse_alone_cpu: float
    ceiling_parse: float  # the reader parse_feed uses (fastfeed.read, feedparser, json.loads)
    ceiling_cpu: float
    feedparser_alone: float  # feedparser.parse, the reader before the fast path
    feedparser_cpu: float
    copy_indexed: float
    copy_bare: float
    copy_rows: int
    with_topics: int
    unsafe_left: int


def rss_now() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def is_postgres(title: str) -> bool:
    return title.startswith("postgres")


async def timed_poll(
    pool: asyncpg.Pool,
    session: Any,
    source_id: int,
    probe: Probe,
    server_pid: int,
) -> PollFigures:
    gc.collect()
    rss_before = rss_now()
    reset_peak_rss()
    probe.reset()
    window = common.CpuWindow().start()
    cpu_started = time.process_time()
    started = time.perf_counter()
    (result,) = await feeds.poll_now(pool, session, source_id, allow_private=True)
    wall = time.perf_counter() - started
    process_cpu = time.process_time() - cpu_started
    window.stop()
    rss_peak = common.peak_rss_bytes(os.getpid())
    await asyncio.sleep(0)  # the query logger reports through call_soon
    stages, queries = dict(probe.stages), probe.query_seconds()
    rows = await pool.fetchval("SELECT count(*) FROM items")
    postgres = sum(d.cpu for d in window.deltas.values() if is_postgres(d.name))
    return PollFigures(
        wall=wall,
        items=result.created + result.updated + result.unchanged,
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        error=result.error,
        warning=result.warning,
        stages=stages,
        queries=queries,
        process_cpu=process_cpu,
        postgres_cpu=postgres,
        server_cpu=window.used_by([server_pid]),
        machine_busy=window.busy,
        rss_before=rss_before,
        rss_peak=rss_peak,
        rows_after=int(rows),
    )


COPY_COLUMNS = [
    "source_id", "guid", "link", "title", "summary_html", "summary_text", "image_url",
    "image_alt", "author", "language", "categories", "topic_ids", "published_at",
    "content_hash",
]  # fmt: skip


def copy_records(
    parsed: Sequence[ParsedItem], source_id: int, topics_of: Callable[[ParsedItem], list[int]]
) -> list[tuple[Any, ...]]:
    now = datetime.now(UTC)
    return [
        (
            source_id, i.guid, i.link, i.title, i.summary_html, i.summary_text, i.image_url,
            i.image_alt, i.author, i.language, list(i.categories), topics_of(i),
            i.published_at or now, hashlib.sha256((i.guid or "").encode()).digest(),
        )
        for i in parsed
    ]  # fmt: skip


async def timed_copy(conn: Connection, table: str, records: list[tuple[Any, ...]]) -> float:
    await conn.execute(f"TRUNCATE {table}")
    started = time.perf_counter()
    await conn.copy_records_to_table(table, records=records, columns=COPY_COLUMNS)
    return time.perf_counter() - started


# <div> and the other block elements are kept on purpose (sanitise.py: dropping them glues words).
UNSAFE = (
    "<script", "<style", "<iframe", "<span", "onerror", "onclick", "javascript:",
    "style=", 'href="/', 'href="../', 'src="/', "<!--",
)  # fmt: skip


async def one_round(
    k: int,
    pool: asyncpg.Pool,
    session: Any,
    url: str,
    args: argparse.Namespace,
    probe: Probe,
    server_pid: int,
    max_body: int,
    rules: dict[str, list[str]],
) -> Round:
    """Empty the item store, add the feed as a new source, poll it twice, then measure the
    pieces alone on the same bytes."""
    await pool.execute("TRUNCATE items CASCADE")
    await pool.execute("DELETE FROM feed_sources WHERE kind = 'feed'")
    source = await feeds.create_source(
        pool, url=f"{url}?round={k}", name="County Health Department", category_rules=rules
    )
    source_id = source["source_id"]
    log(f"round {k + 1}: first poll")
    first = await timed_poll(pool, session, source_id, probe, server_pid)
    log(f"round {k + 1}: {first.items:,} items in {first.wall:.2f} s; second poll")
    second = await timed_poll(pool, session, source_id, probe, server_pid)
    log(f"round {k + 1}: {second.items:,} items in {second.wall:.2f} s; the pieces alone")

    async with pool.acquire() as conn:
        with_topics = await conn.fetchval(
            "SELECT count(*) FROM items WHERE source_id = $1 AND topic_ids <> '{}'", source_id
        )
        unsafe_left = await conn.fetchval(
            "SELECT count(*) FROM items WHERE source_id = $1 AND (summary_html LIKE ANY($2) "
            "OR link LIKE '%utm\\_%' OR link LIKE '%#%')",
            source_id,
            [f"%{u}%" for u in UNSAFE],
        )
        known = await item_store.topic_ids_by_slug(conn)

    started = time.perf_counter()
    fetched = await fetching.fetch(session, url, allow_private=True, max_body=max_body)
    fetch_alone = time.perf_counter() - started
    body = fetched.body

    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    parsed = parse_feed(body, fetched.content_type, fetched.url)
    parse_alone, parse_alone_cpu = time.perf_counter() - started, time.process_time() - cpu

    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    if args.format == "json":
        json.loads(body)
    elif fastfeed.read(body) is None:
        feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    ceiling_parse, ceiling_cpu = time.perf_counter() - started, time.process_time() - cpu
    gc.collect()
    started, cpu = time.perf_counter(), time.process_time()
    if args.format != "json":
        feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    feedparser_alone, feedparser_cpu = time.perf_counter() - started, time.process_time() - cpu

    topics_for = {c: [known[s] for s in slugs] for c, slugs in source["category_rules"].items()}
    records = copy_records(parsed.items, source_id, item_store.topics_by_rules([], topics_for))
    async with pool.acquire() as conn:
        copy_indexed = await timed_copy(conn, "bench_copy_indexed", records)
        copy_bare = await timed_copy(conn, "bench_copy_bare", records)
        await conn.execute("TRUNCATE bench_copy_indexed, bench_copy_bare")
    feed_bytes = len(body)
    del body, fetched, parsed, records
    gc.collect()
    return Round(
        first=first,
        second=second,
        feed_bytes=feed_bytes,
        fetch_alone=fetch_alone,
        parse_alone=parse_alone,
        parse_alone_cpu=parse_alone_cpu,
        ceiling_parse=ceiling_parse,
        ceiling_cpu=ceiling_cpu,
        feedparser_alone=feedparser_alone,
        feedparser_cpu=feedparser_cpu,
        copy_indexed=copy_indexed,
        copy_bare=copy_bare,
        copy_rows=first.items,
        with_topics=int(with_topics),
        unsafe_left=int(unsafe_left),
    )


# ---------------------------------------------------------------- the stock-limit probe


async def stock_limit_poll(
    pool: asyncpg.Pool, session: Any, url: str, rules: dict[str, list[str]]
) -> str:
    """One poll exactly as mailer ships (its own body limit), to show what it does."""
    source = await feeds.create_source(pool, url=f"{url}?stock", category_rules=rules)
    try:
        (result,) = await feeds.poll_now(pool, session, source["source_id"], allow_private=True)
    finally:
        await feeds.delete_source(pool, source["source_id"])
        await pool.execute("TRUNCATE items CASCADE")
    if result.error:
        return f"refused: {result.error!r}"
    return f"read: {result.created:,} items created"


# ---------------------------------------------------------------- py-spy


@dataclass
class Profile:
    samples: int
    inclusive: Counter[str]
    own: Counter[str]


def frame_key(frame: str) -> str:
    """'parse_feed (mailer/content/parse.py:98)' -> 'parse_feed (mailer/content/parse.py)'."""
    name, _, where = frame.strip().partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/main/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})" if path else name


def read_profile(path: Path) -> Profile:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame_key(f) for f in stack.split(";") if " (" in f]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for key in set(frames):
            inclusive[key] += count
    return Profile(total, inclusive, own)


async def profiled_round(
    path: Path,
    pool: asyncpg.Pool,
    session: Any,
    url: str,
    rules: dict[str, list[str]],
    max_body: int,
) -> Profile:
    """One more first + second poll (not among the figures) under py-spy --nonblocking."""
    spy = Path(PYTHON).with_name("py-spy")
    if not spy.exists():
        raise SystemExit(f"{spy} is missing: .venv/bin/pip install py-spy")
    await pool.execute("TRUNCATE items CASCADE")
    await pool.execute("DELETE FROM feed_sources WHERE kind = 'feed'")
    source = await feeds.create_source(pool, url=f"{url}?profile", category_rules=rules)
    command = [
        str(spy), "record", "--pid", str(os.getpid()), "--rate", "250", "--nonblocking",
        "--format", "raw", "--output", str(path), "--duration", "300",
    ]  # fmt: skip
    process = common.spawn(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await asyncio.sleep(1.5)  # py-spy attaches
        with probes(Probe(), max_body):
            for _ in range(2):
                await feeds.poll_now(pool, session, source["source_id"], allow_private=True)
        await asyncio.sleep(0.3)
        process.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(process.wait, 60)
    finally:
        await asyncio.to_thread(common.stop_process, process, 10)
    if not path.exists():
        raise RuntimeError("py-spy wrote no profile (ptrace not permitted?)")
    return read_profile(path)


# ---------------------------------------------------------------- report


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def spread(values: Sequence[float], unit: str = "s", digits: int = 3) -> str:
    """The median, and the range when there are several rounds."""
    text = f"{median(values):.{digits}f} {unit}".rstrip()
    if len(values) > 1:
        text += f" (min {min(values):.{digits}f}, max {max(values):.{digits}f})"
    return text


def share(part: float, whole: float) -> str:
    return f"{part / whole:5.1%}" if whole else "  n/a"


def poll_rows(polls: list[PollFigures], label: str) -> list[tuple[str, str]]:
    def m(get: Callable[[PollFigures], float]) -> float:
        return median([get(p) for p in polls])

    wall = m(lambda p: p.wall)
    queries = sorted({q for p in polls for q in p.queries})

    def line(seconds: float, cpu: float | None = None) -> str:
        text = f"{seconds:7.3f} s  {share(seconds, wall)}"
        return text if cpu is None else f"{text}  (CPU {cpu:.3f} s)"

    def stage(name: str) -> float:
        return m(lambda p: p.stages.get(name, 0.0))

    stages = [
        ("fetch (mailer.fetch.fetch: GET + read body)", stage("fetch"), None),
        (
            "parse + sanitise (open_feed + its chunks, worker thread)",
            stage("parse"),
            stage("parse cpu"),
        ),
        (
            "upsert (ItemBatch.add per chunk, overlaps the parse)",
            stage("store"),
            stage("store cpu"),
        ),
    ]
    in_store = [q for q in queries if q in STORE_QUERIES]
    rows: list[tuple[str, str]] = [
        ("wall", spread([p.wall for p in polls])),
        ("items/s", spread([p.rate for p in polls], "", 0)),
        ("items per CPU-second of this process",
         spread([p.items / max(p.process_cpu, 1e-9) for p in polls], "", 0)),
        ("result", f"{polls[0].created:,} created, {polls[0].updated:,} updated, "
         f"{polls[0].unchanged:,} unchanged" + (f"; ERROR {polls[0].error}" if polls[0].error
                                                else "")),
    ]  # fmt: skip
    for name, seconds, cpu in stages:
        rows.append((f"  {name}", line(seconds, cpu)))
        if name.startswith("upsert"):
            for q in in_store:
                value = m(lambda p, q=q: p.queries.get(q, 0.0))  # type: ignore[misc]
                rows.append((f"    {q} (statement, incl. asyncpg encoding)", line(value)))
            value = m(lambda p: p.store_python)
            rows.append(("    Python in store_items (dedupe, _hash, _columns)", line(value)))
    rows.append(("  the rest (claim, BEGIN, topics, record_success, COMMIT, loop)",
                 line(m(lambda p: p.other))))  # fmt: skip
    for q in queries:
        if q not in STORE_QUERIES:
            rows.append((f"    {q}", line(m(lambda p, q=q: p.queries.get(q, 0.0)))))  # type: ignore[misc]
    rows += [
        ("CPU in the window", f"this process {m(lambda p: p.process_cpu):.2f} s, PostgreSQL "
         f"{m(lambda p: p.postgres_cpu):.2f} s, feed server {m(lambda p: p.server_cpu):.2f} s; "
         f"machine busy {m(lambda p: p.machine_busy):.2f} core-s of "
         f"{wall * (os.cpu_count() or 1):.2f}"),
        ("RSS of this process, before -> peak during the poll", ", ".join(
            f"{p.rss_before / 2**20:.0f} -> {p.rss_peak / 2**20:.0f} MB" for p in polls)
         + (" (per round; freed memory stays with the allocator between rounds)"
            if len(polls) > 1 else "")),
        (f"rows in items after the {label}", " / ".join(f"{p.rows_after:,}" for p in polls)),
    ]  # fmt: skip
    return rows


def report(rounds: list[Round], args: argparse.Namespace, expected: int) -> list[str]:
    failures: list[str] = []
    firsts = [r.first for r in rounds]
    seconds = [r.second for r in rounds]
    print_table(f"first poll: {expected:,} new items (median of {len(rounds)})",
                poll_rows(firsts, "first poll"))  # fmt: skip
    print_table(f"second poll: the same feed, all unchanged (median of {len(rounds)})",
                poll_rows(seconds, "second poll"))  # fmt: skip

    n = rounds[0].copy_rows
    parse_alone = [r.parse_alone for r in rounds]
    ceiling_name = (
        "json.loads alone"
        if args.format == "json"
        else "the reader alone (mailer.content.fastfeed.read: lxml; feedparser if it declines)"
    )
    rows = [
        ("mailer.fetch.fetch alone", spread([r.fetch_alone for r in rounds])),
        ("mailer.content.parse.parse_feed alone", spread(parse_alone)
         + f"  = {n / median(parse_alone):,.0f} items/s; CPU "
         f"{median([r.parse_alone_cpu for r in rounds]):.3f} s"),
        (ceiling_name, spread([r.ceiling_parse for r in rounds])
         + f"; CPU {median([r.ceiling_cpu for r in rounds]):.3f} s"),
        ("  mailer's own per-item work (parse_feed - that)",
         f"{median([r.parse_alone - r.ceiling_parse for r in rounds]):.3f} s; CPU "
         f"{median([r.parse_alone_cpu - r.ceiling_cpu for r in rounds]):.3f} s"),
    ]  # fmt: skip
    if args.format != "json":
        rows.append(("feedparser.parse alone (the reader before; still the fallback)",
                     spread([r.feedparser_alone for r in rounds])
                     + f"; CPU {median([r.feedparser_cpu for r in rounds]):.3f} s"))  # fmt: skip
    rows += [
        (f"COPY {n:,} rows into a table LIKE items INCLUDING ALL",
         spread([r.copy_indexed for r in rounds])
         + f"  = {n / median([r.copy_indexed for r in rounds]):,.0f} rows/s"),
        (f"COPY {n:,} rows into a table without indexes",
         spread([r.copy_bare for r in rounds])
         + f"  = {n / median([r.copy_bare for r in rounds]):,.0f} rows/s"),
        ("floor one after the other (fetch + parse_feed + indexed COPY)",
         f"{median([r.fetch_alone + r.parse_alone + r.copy_indexed for r in rounds]):.3f} s"),
        ("floor overlapped (fetch + the longer of parse_feed and indexed COPY)",
         f"{median([r.fetch_alone + max(r.parse_alone, r.copy_indexed) for r in rounds]):.3f} s"),
    ]  # fmt: skip
    print_table("the pieces alone, same bytes, same run (ceilings)", rows)

    wall = median([p.wall for p in firsts])
    rate = median([p.rate for p in firsts])
    cpu_rate = median([p.items / max(p.process_cpu, 1e-9) for p in firsts])
    target_rate = expected / TARGET_SECONDS
    print(
        f"\nTARGET first poll of {expected:,} {args.format} items: {wall:.2f} s = {rate:,.0f} "
        f"items/s ({cpu_rate:,.0f} per CPU-second of this process) vs <= {TARGET_SECONDS:.0f} s "
        f"(>= {target_rate:,.0f} items/s) {'PASS' if wall <= TARGET_SECONDS else 'FAIL'}"
    )

    usage = resource.getrusage(resource.RUSAGE_SELF)
    last = rounds[-1]
    rows = [
        ("items with at least one topic (category rules)", f"{last.with_topics:,} of "
         f"{last.first.rows_after:,}"),
        ("summaries with unsafe or unresolved markup, links with utm_*/#",
         f"{last.unsafe_left:,} (looked for {' '.join(UNSAFE)})"),
        ("peak RSS of this process, whole run", common.mib(usage.ru_maxrss * 1024)),
    ]  # fmt: skip
    print_table("checks", rows)

    for k, r in enumerate(rounds, 1):
        for label, poll, want_new in (("first", r.first, expected), ("second", r.second, 0)):
            if poll.error:
                failures.append(f"round {k}: {label} poll failed: {poll.error}")
            if poll.created != want_new or poll.rows_after != expected:
                failures.append(
                    f"round {k}: {label} poll created {poll.created:,} (expected {want_new:,}); "
                    f"{poll.rows_after:,} rows (expected {expected:,})"
                )
        if r.second.unchanged != expected:
            failures.append(f"round {k}: second poll: {r.second.unchanged:,} unchanged")
        if r.unsafe_left:
            failures.append(f"round {k}: {r.unsafe_left} items kept unsafe markup")
    return failures


def print_profile(profile: Profile, path: Path) -> None:
    watch = [
        "poll_source (mailer/content/feeds.py)", "open_feed (mailer/content/parse.py)",
        "_items (mailer/content/parse.py)", "read (mailer/content/fastfeed.py)",
        "parse (feedparser/api.py)", "_xml_item (mailer/content/parse.py)",
        "_json_item (mailer/content/parse.py)", "sanitise_html (mailer/content/sanitise.py)",
        "absolute (mailer/content/sanitise.py)", "to_text (mailer/content/sanitise.py)",
        "clean_line (mailer/content/sanitise.py)", "canonical_link (mailer/content/parse.py)",
        "_xml_image (mailer/content/parse.py)", "add (mailer/content/items.py)",
        "_hash (mailer/content/items.py)", "asdict (dataclasses.py)",
        "_columns (mailer/content/items.py)",
        "fetch (mailer/fetch.py)", "_read (mailer/fetch.py)",
    ]  # fmt: skip
    total = max(profile.samples, 1)
    rows = [("samples (250 Hz, both polls, all threads)", f"{profile.samples:,}")]
    rows += [
        (f"incl. {key}", f"{profile.inclusive[key] / total:5.1%}")
        for key in watch
        if profile.inclusive.get(key)
    ]
    rows += [(f"self {key}", f"{count / total:5.1%}") for key, count in profile.own.most_common(12)]
    rows.append(("raw collapsed stacks", str(path)))
    rows.append(("note", "time in native code (nh3, expat) counts as the calling function's self"))
    print_table("py-spy: one more first + second poll (not among the figures)", rows)


# ---------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/ingest",
        description="Items ingested per second from a big feed served on loopback (parse + "
        "sanitise + upsert), first poll and a second poll of the same feed (all duplicates).",
    )
    parser.add_argument("--items", type=int, default=10_000, help="items in the feed (10000)")
    parser.add_argument("--format", choices=sorted(CONTENT_TYPES), default="rss")
    parser.add_argument(
        "--repeat", type=int, default=1, help="repeat the two polls K times; medians (1)"
    )
    parser.add_argument(
        "--gzip", action="store_true", help="serve the feed gzip-compressed (default: identity)"
    )
    parser.add_argument(
        "--stock-limit",
        action="store_true",
        help="keep mailer's 5 MB body limit even when the feed is larger (the polls then fail)",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        type=Path,
        help="after the figures, profile one more pair of polls with py-spy; raw stacks to FILE",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help="give up after this many seconds (default 300 + 400 per round, + 300 to profile)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    return parser


@contextlib.asynccontextmanager
async def mailer_pool(url: str, probe: Probe) -> AsyncIterator[asyncpg.Pool]:
    """mailer's own pool (its codecs) with one connection, so the query logger sees every
    statement a poll makes (a poll uses one connection at a time anyway)."""
    pool = await open_pool(url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            conn.add_query_logger(query_logger(probe))
            await conn.execute(
                "CREATE TABLE bench_copy_indexed (LIKE items INCLUDING ALL);"
                "CREATE TABLE bench_copy_bare (LIKE items INCLUDING DEFAULTS)"
            )
        yield pool
    finally:
        await pool.close()


async def run(args: argparse.Namespace) -> int:
    if not 1 <= args.items <= 1_000_000 or not 1 <= args.repeat <= 50:
        raise SystemExit("--items must be 1..1000000 and --repeat 1..50")
    began = time.monotonic()
    expected = min(args.items, MAX_ITEMS)
    info = common.machine_info()
    probe = Probe()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mailer-bench-ingest-") as tmp_name:
        out = Path(tmp_name) / f"feed.{args.format}"
        log(f"generating {args.items:,} items ({args.format}) in the feed server")
        with feed_server(args, out) as (url, server_pid):
            feed_bytes = out.stat().st_size
            max_body = fetching.MAX_BODY
            if feed_bytes > max_body and not args.stock_limit:
                max_body = (feed_bytes // 2**20 + 2) * 2**20
            async with (
                common.throwaway_database(prefix="mailer_bench_ingest") as database_url,
                mailer_pool(database_url, probe) as pool,
                fetching.make_session(allow_private=True) as session,
            ):
                info["PostgreSQL"] = str(await pool.fetchval("SHOW server_version"))
                info["libraries"] = (
                    f"feedparser {version('feedparser')}, nh3 {version('nh3')}, aiohttp "
                    f"{version('aiohttp')}, asyncpg {version('asyncpg')}, uvloop "
                    f"{version('uvloop')} (this process runs on uvloop, as mailer serve does)"
                )
                print_table("machine", info.items())
                made = [await create_topic(pool, name=name) for name in TOPICS]
                slug = {t.name: t.slug for t in made}
                rules = {c: [slug[name]] for name, cats in TOPICS.items() for c in cats}
                per_item = feed_bytes / args.items
                stock = ""
                if feed_bytes > fetching.MAX_BODY:
                    log("one poll with mailer's own 5 MB body limit")
                    stock = await stock_limit_poll(pool, session, url, rules)
                limit_note = (
                    f"{fetching.MAX_BODY / 2**20:.0f} MB (mailer.fetch.MAX_BODY)"
                    if max_body == fetching.MAX_BODY
                    else f"RAISED to {max_body / 2**20:.0f} MB for this benchmark (passed as "
                    f"fetch(max_body=...)); mailer's own {fetching.MAX_BODY / 2**20:.0f} MB "
                    f"limit: {stock}"
                )
                print_table(
                    "feed",
                    [
                        ("format", f"{args.format} ({CONTENT_TYPES[args.format]}), "
                         f"{'gzip' if args.gzip else 'no content-encoding'}"),
                        ("items", f"{args.items:,}" + (
                            f" (mailer reads the first {MAX_ITEMS:,})"
                            if args.items > MAX_ITEMS else "")),
                        ("size", f"{feed_bytes:,} bytes ({per_item:,.0f} bytes per item)"
                         + (" before gzip" if args.gzip else "")),
                        ("content", "public-health news; HTML summaries with relative links "
                         "and images, utm_* links, <script>, <style>, <iframe>, on* handlers, "
                         "javascript: links, inline styles, tracking pixels, comments"),
                        ("server", f"aiohttp {version('aiohttp')} on uvloop in a separate "
                         f"process (pid {server_pid}), {url}; no ETag/Last-Modified, so "
                         "the second poll is a full 200"),
                        ("mailer side", "feeds.create_source + feeds.poll_now(pool, session, "
                         "id, allow_private=True), session = fetch.make_session("
                         "allow_private=True), mailer.db.open_pool(max_size=1)"),
                        ("topics", f"{len(made)} topics; category rules map "
                         f"{len(rules)} of {len(rules) + len(UNMAPPED)} feed categories"),
                        ("body limit", limit_note),
                    ],
                )  # fmt: skip
                rounds: list[Round] = []
                with probes(probe, max_body):
                    for k in range(args.repeat):
                        rounds.append(
                            await one_round(
                                k, pool, session, url, args, probe, server_pid, max_body, rules
                            )
                        )
                failures += report(rounds, args, expected)
                if args.profile is not None:
                    log("profiling one more pair of polls with py-spy")
                    profile = await profiled_round(
                        args.profile.resolve(), pool, session, url, rules, max_body
                    )
                    print_profile(profile, args.profile.resolve())
    claim = f"{expected:,} rows after each poll, {expected:,} unchanged, no error"
    print_table("verdict", [(claim, "; ".join(failures) or "PASS")])
    print(f"\nbench/ingest finished in {time.monotonic() - began:.0f} s")
    return 1 if failures else 0


async def bounded(args: argparse.Namespace) -> int:
    seconds = args.timeout or 300 + 400 * args.repeat + (300 if args.profile else 0)
    try:
        async with asyncio.timeout(seconds):
            return await run(args)
    except TimeoutError:
        log(f"gave up after {seconds:.0f} s (--timeout); everything started was stopped")
        return 2


def main() -> int:
    args = build_parser().parse_args()
    if args.serve:
        return serve(args)

    def terminate(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through every cleanup

    signal.signal(signal.SIGTERM, terminate)
    return uvloop.run(bounded(args))


if __name__ == "__main__":
    sys.exit(main())
