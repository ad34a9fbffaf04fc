"""Subscriber import: each mode's rules about every state, the consent ledger, events,
series and topics, duplicates, counts and rejects (real PostgreSQL)."""

from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from mailer.addresses import address_hash
from mailer.audience.topics import create_topic
from mailer.editorial.series import create_series
from mailer.imports.types import Mode, UnknownTopics
from tests.support.import_support import (
    add_subscriber,
    counts,
    events_of,
    ledger,
    run_import,
    subscriber,
    suppress,
)

CONSENT = datetime(2025, 1, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
async def catalogue(pool: asyncpg.Pool) -> int:
    """Two public topics, a hidden one, and the default series; returns its id."""
    await create_topic(pool, name="Overdose Prevention", position=1)
    await create_topic(pool, name="Tobacco Control", position=2)
    await create_topic(pool, name="Staff Bulletin", slug="staff", public=False)
    series = await create_series(
        pool,
        name="Weekly",
        cron="0 9 * * tue",
        timezone="America/New_York",
        now=datetime.now(UTC),
        is_default=True,
    )
    series_id: int = series["series_id"]
    return series_id


async def test_consented_rows_become_active_with_their_proof(
    pool: asyncpg.Pool, tmp_path: Path, catalogue: int
) -> None:
    text = (
        "Email Address,First Name,Last Name,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,TAGS\r\n"
        "Zoe@Example.org,Zoë,Smith,2025-01-01 09:00:00,203.0.113.1,2025-01-01 09:30:00,"
        '198.51.100.7,"""Overdose Prevention"",""staff"""\r\n'
        "ann@example.org,Ann,,,,,,\r\n"
    )
    summary, rejects = await run_import(pool, tmp_path, text)
    assert rejects == []
    assert summary.as_json()["created_by_status"] == {"active": 2}
    zoe = await subscriber(pool, "zoe@example.org")
    assert zoe is not None
    assert (zoe["email"], zoe["name"], zoe["status"]) == ("Zoe@example.org", "Zoë Smith", "active")
    assert zoe["confirmed_at"] == CONSENT
    assert zoe["created_at"] == datetime(2025, 1, 1, 9, tzinfo=UTC)
    assert zoe["topics"] == ["overdose-prevention", "staff"]
    assert zoe["series"] == [catalogue]  # so that they actually receive digests
    [entry] = await ledger(pool, "zoe@example.org")
    assert entry["action"] == "import"
    assert entry["occurred_at"] == CONSENT
    assert entry["source"] == "Old list, double opt-in"
    assert entry["ip"] == "198.51.100.7"
    assert entry["topics"] == ["overdose-prevention", "staff"]
    assert entry["detail"]["import_id"] == summary.import_id
    assert entry["detail"]["line"] == 2
    assert await events_of(pool, zoe["subscriber_id"]) == ["subscriber.confirmed"]
    ann = await subscriber(pool, "ann@example.org")
    assert ann is not None
    # The TAGS column exists and Ann's cell is empty: she chose no topic.
    assert ann["topics"] == [] and ann["status"] == "active"
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0  # no mail at all
    record = await pool.fetchrow(
        "SELECT * FROM subscriber_imports WHERE import_id = $1", summary.import_id
    )
    assert record is not None
    assert (record["status"], record["mode"], record["rows_read"]) == ("done", "consented", 2)
    assert record["summary"]["created"] == 2


async def test_rows_without_topics_get_every_public_topic(
    pool: asyncpg.Pool, tmp_path: Path, catalogue: int
) -> None:
    await run_import(pool, tmp_path, "email\nzoe@example.org\n")
    zoe = await subscriber(pool, "zoe@example.org")
    assert zoe is not None and zoe["topics"] == ["overdose-prevention", "tobacco-control"]
    await run_import(pool, tmp_path, "email\nann@example.org\n", topics=("staff",))
    ann = await subscriber(pool, "ann@example.org")
    assert ann is not None and ann["topics"] == ["staff"]  # --topics speaks for the rows


async def _existing_states(pool: asyncpg.Pool) -> None:
    await add_subscriber(pool, "pending@example.org", "pending", name="P")
    active = await add_subscriber(
        pool, "active@example.org", "active", name="Old", confirmed_at=CONSENT
    )
    topic_id = await pool.fetchval("SELECT topic_id FROM topics WHERE slug = 'tobacco-control'")
    await pool.execute("INSERT INTO subscriber_topics VALUES ($1, $2)", active, topic_id)
    await add_subscriber(
        pool,
        "unsub-old@example.org",
        "unsubscribed",
        unsubscribed_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    await add_subscriber(
        pool,
        "unsub-new@example.org",
        "unsubscribed",
        unsubscribed_at=datetime(2026, 6, 1, tzinfo=UTC),
    )
    await add_subscriber(pool, "suppressed@example.org", "suppressed")
    await suppress(pool, "suppressed@example.org", "hard_bounce")
    await suppress(pool, "bounced@example.org", "complaint")
    await suppress(pool, "erased@example.org", "erased")


STATES_FILE = "email,name,topics,confirmed_at\n" + "".join(
    f"{who}@example.org,New,overdose-prevention,2025-01-01T09:30:00Z\n"
    for who in (
        "pending",
        "active",
        "unsub-old",
        "unsub-new",
        "suppressed",
        "bounced",
        "erased",
        "new",
    )
)


async def test_consented_state_rules(pool: asyncpg.Pool, tmp_path: Path, catalogue: int) -> None:
    await _existing_states(pool)
    summary, rejects = await run_import(pool, tmp_path, STATES_FILE)
    report = summary.as_json()
    assert report["created_by_status"] == {"active": 1}
    assert report["updated_by_change"] == {"activated": 2, "updated": 1}
    assert report["skipped_by_reason"] == {"suppressed": 2, "unsubscribed": 1, "erased": 1}
    assert {r["email"]: r["reason"].split(":")[0] for r in rejects} == {
        "unsub-new@example.org": "unsubscribed",
        "suppressed@example.org": "the address is suppressed (bounced, complained or blocked)",
        "bounced@example.org": "the address is suppressed (bounced, complained or blocked)",
        "erased@example.org": "the address was erased on request",
    }
    status = {
        email: (s["status"] if (s := await subscriber(pool, f"{email}@example.org")) else None)
        for email in ("pending", "active", "unsub-old", "unsub-new", "suppressed", "bounced",
                      "erased", "new")
    }  # fmt: skip
    assert status == {
        "pending": "active",  # the file is the proof the confirmation never gave
        "active": "active",
        "unsub-old": "active",  # consent in the file (2025) newer than the unsubscribe (2024)
        "unsub-new": "unsubscribed",  # unsubscribed after the file's consent: stays
        "suppressed": "suppressed",
        "bounced": None,  # never created
        "erased": None,  # never created
        "new": "active",
    }
    active = await subscriber(pool, "active@example.org")
    assert active is not None and active["name"] == "New"
    assert active["topics"] == ["overdose-prevention", "tobacco-control"]  # added, none removed
    assert active["series"] == []  # an existing subscriber's series are theirs to choose
    old = await subscriber(pool, "unsub-old@example.org")
    assert old is not None and old["unsubscribed_at"] is None and old["confirmed_at"] == CONSENT
    assert old["series"] == [catalogue]
    assert await events_of(pool, old["subscriber_id"]) == ["subscriber.confirmed"]
    assert await events_of(pool, active["subscriber_id"]) == ["subscriber.updated"]
    assert [e["action"] for e in await ledger(pool, "unsub-new@example.org")] == []
    assert await ledger(pool, "erased@example.org") == []


async def test_opt_in_state_rules(pool: asyncpg.Pool, tmp_path: Path, catalogue: int) -> None:
    await _existing_states(pool)
    summary, _ = await run_import(pool, tmp_path, STATES_FILE, mode=Mode.OPT_IN, source=None)
    report = summary.as_json()
    assert report["created_by_status"] == {"pending": 1}
    assert report["updated_by_change"] == {"updated": 2}  # pending and active: name, topics
    assert report["skipped_by_reason"] == {"unsubscribed": 2, "suppressed": 2, "erased": 1}
    assert report["confirmations_queued"] == 1
    new = await subscriber(pool, "new@example.org")
    assert new is not None
    assert (new["status"], new["confirmed_at"], new["series"]) == ("pending", None, [])
    assert new["last_notice_at"] is not None  # the signup path will not mail them again at once
    delivery = await pool.fetchrow("SELECT * FROM deliveries")
    assert delivery is not None
    assert (delivery["kind"], delivery["recipient"], delivery["subscriber_id"]) == (
        "confirm",
        "new@example.org",
        new["subscriber_id"],
    )
    confirmation = await pool.fetchrow(
        "SELECT * FROM confirmations WHERE confirmation_id = $1",
        int(delivery["payload"]["confirmation_id"]),
    )
    assert confirmation is not None and confirmation["subscriber_id"] == new["subscriber_id"]
    assert await events_of(pool, new["subscriber_id"]) == ["subscriber.pending"]
    [entry] = await ledger(pool, "new@example.org")
    assert entry["action"] == "import" and entry["detail"]["mode"] == "opt_in"
    pending = await subscriber(pool, "pending@example.org")
    assert pending is not None and pending["status"] == "pending"  # no proof: still pending
    old = await subscriber(pool, "unsub-old@example.org")
    assert old is not None and old["status"] == "unsubscribed"  # opt-in never re-mails them


async def test_status_rows_unsubscribe_and_suppress(
    pool: asyncpg.Pool, tmp_path: Path, catalogue: int
) -> None:
    await add_subscriber(pool, "a@example.org", "active", confirmed_at=CONSENT)
    await add_subscriber(pool, "b@example.org", "active", confirmed_at=CONSENT)
    await add_subscriber(pool, "c@example.org", "active", confirmed_at=CONSENT)
    await add_subscriber(pool, "d@example.org", "active", confirmed_at=CONSENT)
    text = (
        "email,status,unsubscribed_at\n"
        "a@example.org,unsubscribed,2025-06-01\n"  # after their confirmation: applies
        "b@example.org,unsubscribed,2024-06-01\n"  # before it: they came back since
        "c@example.org,cleaned,\n"
        "d@example.org,unsubscribed,\n"  # no time: an opt-out is always honoured
        "e@example.org,unsubscribed,2025-06-01\n"  # new: kept as unsubscribed
        "f@example.org,blocklisted,\n"  # new: kept suppressed, with its hash
    )
    summary, rejects = await run_import(pool, tmp_path, text)
    report = summary.as_json()
    assert report["updated_by_change"] == {"suppressed": 1, "unsubscribed": 2}
    assert report["created_by_status"] == {"suppressed": 1, "unsubscribed": 1}
    assert [r["email"] for r in rejects] == ["b@example.org"]
    assert "older than their latest confirmation" in rejects[0]["reason"]
    a = await subscriber(pool, "a@example.org")
    assert a is not None and a["status"] == "unsubscribed"
    assert a["unsubscribed_at"] == datetime(2025, 6, 1, tzinfo=UTC)
    assert [e["action"] for e in await ledger(pool, "a@example.org")] == ["unsubscribe"]
    assert await events_of(pool, a["subscriber_id"]) == ["subscriber.unsubscribed"]
    c = await subscriber(pool, "c@example.org")
    assert c is not None and c["status"] == "suppressed"
    assert c["suppressed_from"] == "active"  # what lifting the suppression gives back
    owner = await pool.fetchval(
        "SELECT subscriber_id FROM suppressions WHERE email_hash = $1",
        address_hash("c@example.org"),
    )
    assert owner == c["subscriber_id"]
    assert await events_of(pool, c["subscriber_id"]) == ["subscriber.suppressed"]
    rows = await pool.fetch("SELECT email_hash, reason FROM suppressions")
    reasons = {r["email_hash"]: r["reason"] for r in rows}
    assert reasons == {
        address_hash("c@example.org"): "hard_bounce",
        address_hash("f@example.org"): "manual",
    }
    # A later consented import never brings a suppressed address back.
    again, rejects = await run_import(pool, tmp_path, "email\nc@example.org\nf@example.org\n")
    assert again.as_json()["skipped_by_reason"] == {"suppressed": 2}


async def test_duplicates_first_row_wins_within_and_across_chunks(
    pool: asyncpg.Pool, tmp_path: Path, catalogue: int
) -> None:
    lines = [f"reader{i}@example.org,Reader {i}" for i in range(250)]
    lines[10] = "READER3@Example.org,Shouting duplicate"  # same chunk as line 5 (reader3)
    lines[180] = "Reader5@example.org,Late duplicate"  # two chunks after reader5
    text = "email,name\n" + "\n".join(lines) + "\n"
    summary, rejects = await run_import(pool, tmp_path, text, chunk_size=100)
    report = summary.as_json()
    assert report["rows"] == 250
    assert report["created"] == 248
    assert report["skipped_by_reason"] == {"duplicate": 2}
    assert [(r["line"], r["reason"]) for r in rejects] == [
        ("12", "the address is on line 5 already (the first row of an address wins)"),
        ("182", "the address is on line 7 already (the first row of an address wins)"),
    ]
    reader3 = await subscriber(pool, "reader3@example.org")
    assert reader3 is not None and reader3["name"] == "Reader 3"


async def test_a_thousand_rows_with_a_hundred_bad_ones(
    pool: asyncpg.Pool, tmp_path: Path, catalogue: int
) -> None:
    rows = [
        f"person{i}@example.org;Person {i};overdose-prevention;2025-01-0{1 + i % 9}"
        for i in range(1000)
    ]
    bad = {}
    for i in range(0, 1000, 10):  # every tenth row is broken, in one of five ways
        kind = (i // 10) % 5
        if kind == 0:
            rows[i], bad[i] = f"person{i}.example.org;P;;", "invalid_address"
        elif kind == 1:
            rows[i], bad[i] = f"person{i}@example.org;P;astrology;", "unknown_topic"
        elif kind == 2:
            rows[i], bad[i] = f"person{i}@example.org;P;;yesterday", "invalid_date"
        elif kind == 3:
            rows[i], bad[i] = f"PERSON{i - 1}@example.org;Again;;", "duplicate"
        else:
            rows[i], bad[i] = ";No address;;", "missing_address"
    text = "Email;Name;Topics;Confirmed At\r\n" + "\r\n".join(rows) + "\r\n"
    summary, rejects = await run_import(pool, tmp_path, text, chunk_size=300)
    report = summary.as_json()
    assert report["rows"] == 1000
    assert report["created"] == 900
    assert report["skipped"] == 100
    assert report["skipped_by_reason"] == {
        "invalid_address": 20,
        "unknown_topic": 20,
        "invalid_date": 20,
        "duplicate": 20,
        "missing_address": 20,
    }
    assert len(rejects) == 100
    assert [int(r["line"]) for r in rejects] == [i + 2 for i in sorted(bad)]
    assert list(rejects[0]) == ["Email", "Name", "Topics", "Confirmed At", "reason", "line"]
    assert await pool.fetchval("SELECT count(*) FROM subscribers") == 900
    assert await pool.fetchval("SELECT count(*) FROM consent_events") == 900
    assert await pool.fetchval("SELECT count(*) FROM events") == 900


async def test_unknown_topics_rejected_created_or_ignored(
    pool: asyncpg.Pool, tmp_path: Path, catalogue: int
) -> None:
    text = 'email,tags\na@example.org,Vaccines\nb@example.org,"Vaccines, Overdose Prevention"\n'
    summary, rejects = await run_import(pool, tmp_path, text)
    assert summary.as_json()["skipped_by_reason"] == {"unknown_topic": 2}
    assert "unknown topic 'Vaccines'" in rejects[0]["reason"]

    summary, _ = await run_import(pool, tmp_path, text, unknown_topics=UnknownTopics.IGNORE)
    a, b = await subscriber(pool, "a@example.org"), await subscriber(pool, "b@example.org")
    assert a is not None and b is not None
    assert a["topics"] == ["overdose-prevention", "tobacco-control"]  # nothing known: defaults
    assert b["topics"] == ["overdose-prevention"]

    summary, _ = await run_import(pool, tmp_path, text, unknown_topics=UnknownTopics.CREATE)
    assert summary.topics_created == ["vaccines"]
    topic = await pool.fetchrow("SELECT name, public FROM topics WHERE slug = 'vaccines'")
    assert topic is not None and (topic["name"], topic["public"]) == ("Vaccines", False)
    b = await subscriber(pool, "b@example.org")
    assert b is not None and b["topics"] == ["overdose-prevention", "vaccines"]


async def test_dry_run_reports_exactly_and_writes_nothing(
    pool: asyncpg.Pool, tmp_path: Path, catalogue: int
) -> None:
    await _existing_states(pool)
    text = STATES_FILE + "bad-address,X,,\nnew@example.org,Dup,,\nfresh@example.org,F,vaccines,\n"
    before = await counts(pool)
    dry, dry_rejects = await run_import(
        pool, tmp_path, text, dry_run=True, chunk_size=100, unknown_topics=UnknownTopics.CREATE
    )
    assert await counts(pool) == before
    real, real_rejects = await run_import(
        pool, tmp_path, text, chunk_size=100, unknown_topics=UnknownTopics.CREATE
    )
    assert await counts(pool) != before
    ignore = {"import_id", "dry_run", "seconds", "rows_per_second"}
    assert {k: v for k, v in dry.as_json().items() if k not in ignore} == {
        k: v for k, v in real.as_json().items() if k not in ignore
    }
    assert dry_rejects == real_rejects
    assert dry.topics_created == ["vaccines"]

    opt_in, _ = await run_import(
        pool, tmp_path, "email\nsomeone@example.org\n", mode=Mode.OPT_IN, dry_run=True
    )
    assert opt_in.confirmations == 1
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0


async def test_running_an_import_again_changes_nothing(
    pool: asyncpg.Pool, tmp_path: Path, catalogue: int
) -> None:
    text = "".join(f"r{i}@example.org,R {i},tobacco-control\n" for i in range(120))
    first, _ = await run_import(pool, tmp_path, "email,name,topics\n" + text, chunk_size=100)
    assert first.as_json()["created"] == 120
    before = await counts(pool)
    again, _ = await run_import(pool, tmp_path, "email,name,topics\n" + text, chunk_size=100)
    assert again.as_json()["unchanged"] == 120
    after = await counts(pool)
    assert after == {**before, "subscriber_imports": before["subscriber_imports"] + 1}


async def test_chunks_with_nothing_to_do_beside_chunks_with_one_change_each(
    pool: asyncpg.Pool, tmp_path: Path, catalogue: int
) -> None:
    """The merge sends only the statements a chunk has work for: an all-unchanged chunk
    writes nothing, and one change among unchanged rows still gets all its effects."""
    text = "".join(f"r{i}@example.org,R {i},tobacco-control\n" for i in range(400))
    await run_import(pool, tmp_path, "email,name,topics\n" + text, chunk_size=100)
    before = await counts(pool)
    rows = [f"r{i}@example.org,R {i},tobacco-control," for i in range(400)]
    rows[150] = "r150@example.org,R 150,tobacco-control,cleaned"  # chunk 2: a suppression
    rows[250] = "r250@example.org,Renamed,overdose-prevention,"  # chunk 3: an update
    rows[350] = "R0@Example.org,R 0,tobacco-control,"  # chunk 4: a duplicate of line 2
    again, rejects = await run_import(
        pool, tmp_path, "email,name,topics,status\n" + "\n".join(rows) + "\n", chunk_size=100
    )
    report = again.as_json()
    assert report["unchanged"] == 397
    assert report["updated_by_change"] == {"suppressed": 1, "updated": 1}
    assert report["skipped_by_reason"] == {"duplicate": 1}
    assert [(r["line"], r["reason"]) for r in rejects] == [
        ("352", "the address is on line 2 already (the first row of an address wins)")
    ]
    suppressed = await subscriber(pool, "r150@example.org")
    assert suppressed is not None and suppressed["status"] == "suppressed"
    assert await events_of(pool, suppressed["subscriber_id"]) == [
        "subscriber.confirmed",
        "subscriber.suppressed",
    ]
    renamed = await subscriber(pool, "r250@example.org")
    assert renamed is not None and renamed["name"] == "Renamed"
    assert await events_of(pool, renamed["subscriber_id"]) == [
        "subscriber.confirmed",
        "subscriber.updated",
    ]
    assert [e["action"] for e in await ledger(pool, "r250@example.org")] == ["import", "import"]
    after = await counts(pool)
    assert after["suppressions"] == before["suppressions"] + 1
    assert after["subscriber_topics"] == before["subscriber_topics"] + 1  # r250's new topic


async def test_options_are_checked_before_anything_happens(
    pool: asyncpg.Pool, tmp_path: Path, catalogue: int
) -> None:
    from mailer.errors import InvalidInput

    with pytest.raises(InvalidInput) as missing:
        await run_import(pool, tmp_path, "email\na@example.org\n", source="  ")
    assert "source" in missing.value.fields
    with pytest.raises(InvalidInput) as unknown:
        await run_import(pool, tmp_path, "email\na@example.org\n", topics=("astrology",))
    assert "astrology" in unknown.value.fields["topics"]
    assert (await counts(pool))["subscribers"] == 0
