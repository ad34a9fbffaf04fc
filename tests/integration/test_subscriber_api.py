"""The editor API for subscribers in bulk: import upload and job, rejects, export, search,
and opt-in confirmations really sent through the delivery engine."""

import asyncio
import csv
import io
import itertools
import json
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient

from mailer.accounts.api_keys import create_api_key
from mailer.audience.topics import create_topic
from mailer.db import open_pool
from mailer.editorial.series import create_series
from mailer.web import api_subscribers
from mailer.web.app import create_app
from tests.support.factories import engine_settings, running_worker, wait_until
from tests.support.helpers import ClientFactory
from tests.support.import_support import counts, subscriber
from tests.support.smtp_sink import SmtpSink

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def api(pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory) -> Client:
    await create_topic(pool, name="Overdose Prevention")
    await create_topic(pool, name="Tobacco Control")
    await create_series(
        pool, name="Weekly", cron="0 9 * * tue", timezone="UTC", now=datetime.now(UTC),
        is_default=True,
    )  # fmt: skip
    async with pool.acquire() as conn:
        _, key = await create_api_key(conn, "Ana Editor", "admin")
    client = await aiohttp_client(create_app(engine_settings(tmp_path), pool))
    client.session.headers["Authorization"] = f"Bearer {key}"
    return client


async def upload(client: Client, body: str | bytes, query: str, kind: str = "text/csv") -> Any:
    data = body.encode() if isinstance(body, str) else body
    return await client.post(
        f"/api/v1/subscribers/import?{query}", data=data, headers={"Content-Type": kind}
    )


def leftover_uploads() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("mailer-import-*")}


async def test_upload_imports_and_answers_with_the_summary(api: Client, pool: asyncpg.Pool) -> None:
    before = leftover_uploads()
    text = "Email Address;First Name;TAGS\r\nzoe@example.org;Zoë;Tobacco Control\r\nnope;X;\r\n"
    response = await upload(api, text, "mode=consented&source=Mailchimp+list+2019")
    assert response.status == 200
    job = await response.json()
    assert response.headers["Location"] == f"/api/v1/subscribers/imports/{job['import_id']}"
    assert (job["status"], job["mode"], job["requested_by"]) == (
        "done",
        "consented",
        "editor (Ana Editor)",
    )
    assert job["summary"]["created"] == 1 and job["summary"]["skipped_by_reason"] == {
        "invalid_address": 1
    }
    assert job["rejects"] == 1
    zoe = await subscriber(pool, "zoe@example.org")
    assert zoe is not None and zoe["topics"] == ["tobacco-control"] and zoe["status"] == "active"
    source = await pool.fetchval("SELECT source FROM consent_events")
    assert source == "Mailchimp list 2019"

    again = await api.get(f"/api/v1/subscribers/imports/{job['import_id']}")
    assert (await again.json())["summary"] == job["summary"]
    rejects = await api.get(f"/api/v1/subscribers/imports/{job['import_id']}/rejects")
    assert rejects.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(await rejects.text())))
    assert rows[0] == ["Email Address", "First Name", "TAGS", "reason", "line"]
    assert rows[1][:2] == ["nope", "X"] and rows[1][-1] == "3" and "@-sign" in rows[1][3]
    assert leftover_uploads() == before  # the upload is removed once imported


async def test_multipart_form_with_options_in_fields(api: Client, pool: asyncpg.Pool) -> None:
    form = FormData()
    form.add_field("mode", "opt-in")
    form.add_field("confirm_rate", "1000")
    form.add_field(
        "file", b'{"email": "a@example.org", "topics": ["overdose-prevention"]}\n',
        filename="people.jsonl", content_type="application/octet-stream",
    )  # fmt: skip
    response = await api.post("/api/v1/subscribers/import", data=form)
    assert response.status == 200, await response.text()
    job = await response.json()
    assert job["summary"]["created_by_status"] == {"pending": 1}
    assert job["summary"]["confirmations_queued"] == 1
    assert job["options"]["format"] == "jsonl"
    assert await pool.fetchval("SELECT count(*) FROM deliveries WHERE kind = 'confirm'") == 1


async def test_a_long_import_answers_202_and_can_be_followed(
    api: Client, pool: asyncpg.Pool
) -> None:
    text = "email\n" + "".join(f"r{i}@example.org\n" for i in range(3000))
    response = await upload(api, text, "mode=consented&source=x&wait=0")
    assert response.status == 202
    job = await response.json()
    assert job["status"] == "running"

    async def finished() -> bool:
        current = await (await api.get(response.headers["Location"])).json()
        return bool(current["status"] == "done")

    await wait_until(finished, timeout=60)
    done = await (await api.get(response.headers["Location"])).json()
    assert done["summary"]["created"] == 3000 and done["rows_read"] == 3000
    assert done["bytes_read"] == done["file_bytes"]


@pytest.mark.parametrize(
    ("query", "body", "kind", "status", "field"),
    [
        ("source=x", "email\na@example.org\n", "text/csv", 400, "mode"),
        ("mode=consented", "email\na@example.org\n", "text/csv", 400, "source"),
        ("mode=sometimes", "email\na@example.org\n", "text/csv", 400, "mode"),
        ("mode=opt_in&dry_run=perhaps", "email\na@example.org\n", "text/csv", 400, "dry_run"),
        ("mode=opt_in&wait=600", "email\na@example.org\n", "text/csv", 400, "wait"),
        ("mode=opt_in&unknown_topics=x", "email\na@x.org\n", "text/csv", 400, "unknown_topics"),
        ("mode=opt_in&topics=astrology", "email\na@example.org\n", "text/csv", 400, "topics"),
        ("mode=opt_in", "name,phone\nA,1\n", "text/csv", 400, "columns"),
        ("mode=opt_in", "", "text/csv", 400, "file"),
        ("mode=opt_in&column=email", "email\na@example.org\n", "text/csv", 400, "column"),
        ("mode=opt_in", "<xml/>", "application/xml", 415, None),
    ],
)  # fmt: skip
async def test_bad_imports_get_precise_errors_and_change_nothing(
    api: Client,
    pool: asyncpg.Pool,
    query: str,
    body: str,
    kind: str,
    status: int,
    field: str | None,
) -> None:
    before, files = await counts(pool), leftover_uploads()
    response = await upload(api, body, query, kind)
    assert response.status == status
    error = (await response.json())["error"]
    assert error["status"] == status and error["message"]
    if field is not None:
        assert field in error["fields"], error
    assert await counts(pool) == before
    assert leftover_uploads() == files


async def test_uploads_over_the_limit_are_refused(
    api: Client, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_subscribers, "MAX_UPLOAD_BYTES", 10_000)
    files = leftover_uploads()
    body = "email\n" + "".join(f"reader{i}@example.org\n" for i in range(1000))
    response = await upload(api, body, "mode=opt_in")
    assert response.status == 413
    assert "larger than" in (await response.json())["error"]["message"]
    assert leftover_uploads() == files
    assert await pool.fetchval("SELECT count(*) FROM subscriber_imports") == 0


async def test_unknown_imports(api: Client) -> None:
    assert (await api.get("/api/v1/subscribers/imports/99")).status == 404
    bad = await api.get("/api/v1/subscribers/imports/x1")
    assert bad.status == 400 and "import_id" in (await bad.json())["error"]["fields"]
    assert (await api.get("/api/v1/subscribers/imports/99/rejects")).status == 404


async def _import_people(api: Client) -> None:
    rows = ["email,name,status,topics,created_at,confirmed_at,unsubscribed_at,locale"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(60):
        created = (start + timedelta(days=i)).isoformat()
        status, left = (
            ("unsubscribed", (start + timedelta(days=90)).isoformat())
            if i % 4 == 3
            else ("active", "")
        )
        topic = '"overdose-prevention, tobacco-control"' if i % 3 == 0 else "overdose-prevention"
        cells = [f"Person{i}@Example.org", f"Person {i}", status, topic, created, created, left]
        rows.append(",".join(cells) + ",en")
    rows.append('=1+1@example.org,"=HYPERLINK(""x"")",active,,2025-06-01,2025-06-01,,')
    response = await upload(api, "\n".join(rows) + "\n", "mode=consented&source=seed")
    assert response.status == 200, await response.text()


async def test_export_streams_every_subscriber_with_topics_and_consent(
    api: Client, pool: asyncpg.Pool
) -> None:
    await _import_people(api)
    response = await api.get("/api/v1/subscribers/export")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert "attachment" in response.headers["Content-Disposition"]
    text = await response.text()
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 61
    person = next(r for r in rows if r["email"] == "Person6@example.org")
    assert person["topics"] == "overdose-prevention, tobacco-control"
    assert person["confirmed_at"] == "2026-01-07T00:00:00+00:00"
    assert person["status"] == "active" and person["name"] == "Person 6"
    formula = next(r for r in rows if "1+1" in r["email"])
    assert formula["email"] == "'=1+1@example.org"  # spreadsheets do not run it
    assert formula["name"] == '\'=HYPERLINK("x")'

    query = "format=jsonl&status=unsubscribed&topic=tobacco-control"
    lines = await (await api.get(f"/api/v1/subscribers/export?{query}")).text()
    found = [json.loads(line) for line in lines.splitlines()]
    expected = {f"Person{i}@example.org" for i in (3, 15, 27, 39, 51)}  # i % 4 == 3, i % 3 == 0
    assert {f["email"] for f in found} == expected
    assert all(f["topics"] == ["overdose-prevention", "tobacco-control"] for f in found)

    for query, field in (
        ("status=erased", "status"),
        ("topic=nope", "topic"),
        ("format=xml", "format"),
    ):
        bad = await api.get(f"/api/v1/subscribers/export?{query}")
        assert bad.status == 400 and field in (await bad.json())["error"]["fields"]


async def test_export_then_import_into_an_empty_database_gives_the_same_subscribers(
    api: Client, pool: asyncpg.Pool, pg_server: Any, tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    await _import_people(api)
    await pool.execute(
        "UPDATE subscribers SET status = 'suppressed' WHERE email_key = 'person0@example.org'"
    )
    exported = await (await api.get("/api/v1/subscribers/export")).read()

    other_url = await pg_server.clone()
    other = await open_pool(other_url, max_size=3)
    try:
        await create_topic(other, name="Overdose Prevention")
        await create_topic(other, name="Tobacco Control")
        async with other.acquire() as conn:
            _, key = await create_api_key(conn, "restore", "admin")
        client = await aiohttp_client(create_app(engine_settings(tmp_path / "b"), other))
        response = await client.post(
            "/api/v1/subscribers/import?mode=consented&source=restore",
            data=exported,
            headers={"Content-Type": "text/csv", "Authorization": f"Bearer {key}"},
        )
        assert response.status == 200
        assert (await response.json())["summary"]["created"] == 61
        query = (
            "SELECT email, name, status, locale, source, created_at, confirmed_at,"
            " unsubscribed_at, ARRAY(SELECT t.slug FROM subscriber_topics x JOIN topics t"
            " USING (topic_id) WHERE x.subscriber_id = s.subscriber_id ORDER BY 1) AS topics"
            " FROM subscribers s ORDER BY email_key"
        )
        assert [dict(r) for r in await other.fetch(query)] == [
            dict(r) for r in await pool.fetch(query)
        ]
    finally:
        await other.close()
        await pg_server.drop(other_url)


async def test_search_pages_with_cursors(api: Client, pool: asyncpg.Pool) -> None:
    await _import_people(api)
    seen: list[str] = []
    cursor = None
    while True:
        query = "q=PERSON&limit=7" + (f"&cursor={cursor}" if cursor else "")
        page = await (await api.get(f"/api/v1/subscribers?{query}")).json()
        seen += [s["email"] for s in page["subscribers"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # newest signup first, every match exactly once
    assert seen == [f"Person{i}@example.org" for i in reversed(range(60))]

    page = await (
        await api.get(
            "/api/v1/subscribers?q=son1&status=active&topic=tobacco-control"
            "&since=2026-01-05&until=2026-01-20"
        )
    ).json()
    # son1: Person1 and Person10-19; tobacco-control: 12, 15, 18; 15 has unsubscribed
    assert [s["email"] for s in page["subscribers"]] == [f"Person{i}@example.org" for i in (18, 12)]
    first = page["subscribers"][0]
    assert first["topics"] == ["overdose-prevention", "tobacco-control"]
    assert first["created_at"] == "2026-01-19T00:00:00+00:00"
    assert page["next_cursor"] is None
    # LIKE's wildcards are text here, not patterns
    assert (await (await api.get("/api/v1/subscribers?q=%25_%25")).json())["subscribers"] == []


async def test_bad_search_requests_are_400(api: Client, pool: asyncpg.Pool) -> None:
    await _import_people(api)
    page = await (await api.get("/api/v1/subscribers?limit=5&status=active")).json()
    cursor = page["next_cursor"]
    assert cursor
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    cases = [
        (f"cursor={cursor[:10]}", "cursor"),
        ("cursor=not a cursor at all!", "cursor"),
        (f"limit=5&status=active&cursor={tampered}", "cursor"),
        (f"limit=5&status=unsubscribed&cursor={cursor}", "cursor"),  # another search's cursor
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("limit=501", "limit"),
        ("status=sleeping", "status"),
        ("topic=astrology", "topic"),
        ("since=yesterday", "since"),
        ("since=2026-02-01&until=2026-01-01", "until"),
        ("q=" + "x" * 400, "q"),
        ("q=zz", "q"),
    ]
    for query, field in cases:
        response = await api.get(f"/api/v1/subscribers?{query}")
        assert response.status == 400, query
        assert field in (await response.json())["error"]["fields"], query
    good = await api.get(f"/api/v1/subscribers?limit=5&status=active&cursor={cursor}")
    assert good.status == 200


async def test_opt_in_import_sends_paced_confirmations_through_the_engine(
    api: Client, pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    text = "email,name\n" + "".join(f"new{i}@example.org,New {i}\n" for i in range(4))
    response = await upload(api, text, "mode=opt_in&confirm_rate=20")
    assert response.status == 200
    due = [r["next_attempt_at"] for r in await pool.fetch(
        "SELECT next_attempt_at FROM deliveries ORDER BY next_attempt_at"
    )]  # fmt: skip
    gaps = [round((b - a).total_seconds(), 3) for a, b in itertools.pairwise(due)]
    assert gaps == [0.05] * 3
    assert await pool.fetchval("SELECT count(*) FROM subscribers WHERE status = 'pending'") == 4

    async with running_worker(pool, db_url, smtp_sink, engine_settings(tmp_path)):
        mails = await smtp_sink.wait_for(4)
    assert sorted(m.rcpt_tos[0] for m in mails) == [f"new{i}@example.org" for i in range(4)]
    body = mails[0].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"https://news\.example\.org(/confirm/[A-Za-z0-9_-]{32})", body)
    assert link, body
    confirmed = await api.post(link.group(1))
    assert confirmed.status == 200
    who = mails[0].rcpt_tos[0]
    person = await subscriber(pool, who)
    assert person is not None and person["status"] == "active" and len(person["series"]) == 1
    await asyncio.sleep(0)


async def test_openapi_describes_the_upload(api: Client) -> None:
    spec = await (await api.get("/api/v1/openapi.json")).json()
    upload = spec["paths"]["/subscribers/import"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {p["name"] for p in upload["parameters"]} >= {"mode", "source", "wait", "dry_run"}
    assert {"200", "202", "400", "413", "415"} <= set(upload["responses"])
