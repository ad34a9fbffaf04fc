"""Console topics (add, edit, remove with the count of subscribers who have it) and series
(add, edit, the next runs in words)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from mailer.audience import topics
from mailer.editorial import series
from mailer.editorial.counts import recount_audience
from mailer.web.console.series import upcoming_runs
from mailer.web.console.when import day_and_time, relative
from tests.support.console import XSS
from tests.support.console_admin import admin_client, field_error, field_value, post
from tests.support.factories import add_subscribers
from tests.support.helpers import ClientFactory


def test_times_in_words() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    at = datetime.fromisoformat
    assert relative(at("2026-11-29T13:00:00+00:00"), now) == "in 3 days"
    assert relative(at("2026-11-26T13:00:00+00:00"), now) == "in 1 hour"
    assert relative(at("2026-11-26T11:58:00+00:00"), now) == "2 minutes ago"
    assert relative(at("2026-11-26T12:00:30+00:00"), now) == "in under a minute"
    assert relative(now, now) == "just now"
    assert relative(None, now) == ""
    assert day_and_time(at("2026-12-01T08:00:00+00:00"), "Europe/Berlin") == (
        "Tuesday 1 December 2026, 09:00 CET"
    )
    # The runs as the scheduler computes them, across a daylight-saving change.
    runs = upcoming_runs("0 9 * * sun", "Europe/Berlin", at("2027-03-20T00:00:00+00:00"), 2)
    assert [day_and_time(r, "Europe/Berlin") for r in runs] == [
        "Sunday 21 March 2027, 09:00 CET",
        "Sunday 28 March 2027, 09:00 CEST",
    ]
    assert upcoming_runs("not a schedule", "UTC", now, 3) == []


async def test_add_edit_and_remove_a_topic(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client, csrf = await admin_client(pool, aiohttp_client, tmp_path)
    for fields, field, message, status in (
        ({"name": ""}, "name", "The name is required.", 400),
        ({"name": "x" * 101}, "name", "The name is at most 100 characters (this is 101).", 400),
        ({"position": "first"}, "position",
         "The position must be a whole number from -100000 to 100000.", 400),
        ({"slug": "Not A Slug"}, "slug",
         "Lower-case letters, digits and dashes, starting with a letter or digit.", 400),
    ):  # fmt: skip
        response = await post(client, "/console/topics", csrf,
                              **{"name": f"Vaccines {XSS}", "position": "2", **fields})  # fmt: skip
        page = await response.text()
        assert response.status == status, fields
        assert field_error(page, field) == message
        assert await pool.fetchval("SELECT count(*) FROM topics") == 0

    response = await post(client, "/console/topics", csrf, name=f"Vaccines {XSS}",
                          slug="vaccines", description="Shots & boosters", position="2",
                          public="1")  # fmt: skip
    assert response.headers["Location"] == "/console/topics?done=added&name=vaccines"
    page = await (await client.get(response.headers["Location"])).text()
    assert "Topic <code>vaccines</code> added." in page
    assert "Vaccines &lt;script&gt;" in page and "<script>alert" not in page
    duplicate = await post(client, "/console/topics", csrf, name="Again", slug="vaccines")
    assert duplicate.status == 409
    assert field_error(await duplicate.text(), "slug") == (
        "A topic with the short name 'vaccines' exists already: choose another name or short name."
    )

    # Edit: shown as it is, saved, hidden.
    page = await (await client.get("/console/topics/vaccines")).text()
    assert field_value(page, "position") == "2"
    response = await post(client, "/console/topics/vaccines", csrf, name="Vaccines",
                          description="", position="5")  # fmt: skip
    assert response.headers["Location"] == "/console/topics/vaccines?saved=1"
    topic = (await topics.list_topics(pool))[0]
    assert (topic.name, topic.description, topic.position, topic.public) == (
        "Vaccines",
        "",
        5,
        False,
    )
    refused = await post(client, "/console/topics/vaccines", csrf, name=" ", position="5")
    assert refused.status == 400
    assert field_error(await refused.text(), "name") == "The name is required."

    # Remove: the confirmation counts who has it.
    ids = await add_subscribers(pool, 3)
    await pool.execute("UPDATE subscribers SET status = 'unsubscribed' WHERE subscriber_id = $1",
                       ids[0])  # fmt: skip
    await pool.execute("INSERT INTO subscriber_topics SELECT unnest($1::bigint[]), $2", ids,
                       topic.topic_id)  # fmt: skip
    # The page shows kept counts (at most COUNTS_MAX_AGE seconds old, counted when this
    # test first showed the list): the worker's tick would recount them; here, now.
    assert await recount_audience(pool)
    listing = await (await client.get("/console/topics")).text()
    assert re.search(r'<td class="num">2</td>\s*<td class="num optional">3</td>', listing)
    page = await (await client.get("/console/topics/vaccines/remove")).text()
    assert "<strong>3 subscribers</strong> have this topic (2 active)" in page
    response = await post(client, "/console/topics/vaccines/remove", csrf)
    assert response.headers["Location"] == "/console/topics?done=removed&name=vaccines"
    assert await topics.list_topics(pool) == []
    assert await pool.fetchval("SELECT count(*) FROM subscriber_topics") == 0
    assert await pool.fetchval("SELECT count(*) FROM subscribers") == 3
    assert (await client.get("/console/topics/vaccines")).status == 404
    assert (await post(client, "/console/topics/vaccines/remove", csrf)).status == 404


async def test_add_and_edit_a_series_with_its_next_runs(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client, csrf = await admin_client(pool, aiohttp_client, tmp_path)
    await pool.execute("UPDATE editors SET timezone = 'America/New_York'")
    good = {"name": "Weekly news", "cron": "0 9 * * tue", "timezone": "Europe/Berlin"}
    for change, field, message in (
        ({"cron": "every tuesday"}, "cron", None),
        ({"cron": ""}, "cron", "The schedule is required."),
        ({"timezone": "Mars/Olympus"}, "timezone", "Unknown time zone 'Mars/Olympus'."),
        ({"name": ""}, "name", "The name is required."),
    ):
        response = await post(client, "/console/series", csrf, **{**good, **change})
        page = await response.text()
        assert response.status == 400, change
        error = field_error(page, field)
        assert error is not None, change
        if message:
            assert error == message
        else:
            assert error.startswith("Five fields: minute hour day month weekday")
        assert field_value(page, "cron") == change.get("cron", good["cron"])
        assert await pool.fetchval("SELECT count(*) FROM series") == 0

    response = await post(client, "/console/series", csrf, **good, auto="1", is_default="1")
    series_id = await pool.fetchval("SELECT series_id FROM series")
    assert response.headers["Location"] == f"/console/series/{series_id}?added=1"
    row = await series.get_series(pool, series_id)
    assert (row["mode"], row["is_default"], row["active"]) == ("auto", True, True)
    duplicate = await post(client, "/console/series", csrf, **good)
    assert duplicate.status == 409
    assert field_error(await duplicate.text(), "name") == (
        "A series with the short name 'weekly-news' exists already: choose another name."
    )
    page = await (await client.get(response.headers["Location"])).text()
    runs = re.findall(r"<li><strong>(Tuesday [^<]*)</strong>", page)
    assert len(runs) == 3
    assert all(r.endswith(("09:00 CET", "09:00 CEST")) for r in runs)
    assert "for you" in page  # the editor's own zone beside it
    assert "assembles the digest and sends it at once" in page
    listing = await (await client.get("/console/series")).text()
    assert 'Weekly news</a> <span class="badge">default</span>' in listing
    assert re.search(r"Tuesday \d+ \w+ \d{4}, 09:00 CES?T<br><span class=\"muted small\">in ",
                     listing)  # fmt: skip

    # Saving the name alone leaves the next run where it is (even one the scheduler has
    # not reached yet); a new schedule moves it.
    await pool.execute("UPDATE series SET next_run_at = '2030-01-01 08:00+00'")
    before = datetime(2030, 1, 1, 8, tzinfo=UTC)
    await post(client, f"/console/series/{series_id}", csrf, **{**good, "name": "Weekly"},
               active="1")  # fmt: skip
    row = await series.get_series(pool, series_id)
    assert (row["name"], row["next_run_at"], row["mode"]) == ("Weekly", before, "draft")
    await post(client, f"/console/series/{series_id}", csrf,
               **{**good, "cron": "30 7 * * mon-fri", "timezone": "UTC"}, active="1")  # fmt: skip
    row = await series.get_series(pool, series_id)
    assert row["next_run_at"].astimezone(UTC).strftime("%H:%M") == "07:30"
    refused = await post(client, f"/console/series/{series_id}", csrf,
                         **{**good, "timezone": "Nowhere/Land"}, active="1")  # fmt: skip
    assert refused.status == 400
    assert field_error(await refused.text(), "timezone") == "Unknown time zone 'Nowhere/Land'."
    assert (await series.get_series(pool, series_id))["timezone"] == "UTC"

    # Switched off, then on again: it does not make up for the runs it missed.
    await post(client, f"/console/series/{series_id}", csrf, **good)
    row = await series.get_series(pool, series_id)
    assert not row["active"]
    assert (
        "This series is switched off"
        in await (await client.get(f"/console/series/{series_id}")).text()
    )
    await pool.execute("UPDATE series SET next_run_at = now() - interval '30 days'")
    await post(client, f"/console/series/{series_id}", csrf, **good, active="1")
    row = await series.get_series(pool, series_id)
    assert row["active"] and row["next_run_at"] > datetime.now(UTC)
    assert (await client.get("/console/series/12345")).status == 404


async def test_remove_a_series_once_its_digests_are_done(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    from mailer.editorial import digests
    from tests.support.factories import engine_settings

    client, csrf = await admin_client(pool, aiohttp_client, tmp_path)
    made = await series.create_series(
        pool, name="Daily news", cron="0 7 * * *", timezone="UTC", now=datetime.now(UTC)
    )
    series_id = made["series_id"]
    readers = await add_subscribers(pool, 2)
    await pool.execute(
        "INSERT INTO subscriber_series SELECT s, $2 FROM unnest($1::bigint[]) s", readers, series_id
    )
    assert await recount_audience(pool)  # the pages show kept counts (see above)
    settings = engine_settings(tmp_path)
    draft = await digests.create_digest(pool, settings, series_id, now=datetime.now(UTC))
    sent = await pool.fetchval(
        "INSERT INTO mailings (kind, subject, list_id, series_id, status) "
        "VALUES ('digest', 'Old news', 'x', $1, 'sent') RETURNING mailing_id",
        series_id,
    )
    page = await (await client.get(f"/console/series/{series_id}")).text()
    assert f'href="/console/series/{series_id}/remove"' in page

    # A draft needs the series: the page lists it and offers no button; a post is refused.
    page = await (await client.get(f"/console/series/{series_id}/remove")).text()
    assert "cannot be removed yet" in page
    assert f'href="/console/digests/{draft}"' in page
    assert "Remove the series" not in page
    refused = await post(client, f"/console/series/{series_id}/remove", csrf)
    assert refused.status == 409
    assert "1 unfinished digest" in await refused.text()
    assert await pool.fetchval("SELECT count(*) FROM series") == 1

    await pool.execute("UPDATE mailings SET status = 'cancelled' WHERE mailing_id = $1", draft)
    page = await (await client.get(f"/console/series/{series_id}/remove")).text()
    assert "2 subscribers</strong> receive this series" in page
    assert "Its 1 sent digest stays" in page
    removed = await post(client, f"/console/series/{series_id}/remove", csrf)
    assert removed.status == 303
    assert removed.headers["Location"] == "/console/series?removed=Daily%20news"
    listing = await (await client.get(removed.headers["Location"])).text()
    assert "Series “Daily news” removed." in listing
    assert await pool.fetchval("SELECT count(*) FROM series") == 0
    assert await pool.fetchval("SELECT count(*) FROM subscriber_series") == 0
    assert await pool.fetchval(
        "SELECT series_id IS NULL FROM mailings WHERE mailing_id = $1", sent
    )  # the sent digest stays
    assert (await client.get(f"/console/series/{series_id}/remove")).status == 404
    assert (await post(client, f"/console/series/{series_id}/remove", csrf)).status == 404
