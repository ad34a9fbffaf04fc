"""Console feeds: add (refused input comes back filled in, nothing written), poll now from a
local server, pause and resume, edit, remove after a confirmation."""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg

from mailer.audience import topics
from mailer.content import feeds
from mailer.web.console.feeds import format_rules, parse_rules
from tests.support.console_admin import admin_client, feed_server, field_error, field_value, post
from tests.support.helpers import ClientFactory


def test_rules_are_read_line_by_line() -> None:
    assert parse_rules("Opioids = overdose-prevention, harm-reduction\n\n  Flu=vaccines ") == (
        {"Opioids": ["overdose-prevention", "harm-reduction"], "Flu": ["vaccines"]},
        None,
    )
    assert parse_rules("Opioids = a\nFlu vaccines") == (
        {},
        "Line 2: write it as Category = topic-slug, topic-slug.",
    )
    assert parse_rules("= a")[1] == "Line 1: write it as Category = topic-slug, topic-slug."
    assert parse_rules("Flu = ,")[1] == "Line 1: write it as Category = topic-slug, topic-slug."
    rules = {"opioids": ["a", "b"], "flu": ["c"]}
    assert parse_rules(format_rules(rules)) == (rules, None)


async def _topics(pool: asyncpg.Pool) -> None:
    await topics.create_topic(pool, name="Overdose Prevention")
    await topics.create_topic(pool, name="Tobacco")


async def test_a_refused_feed_comes_back_filled_in_and_nothing_is_written(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await _topics(pool)
    client, csrf = await admin_client(pool, aiohttp_client, tmp_path)
    good: dict[str, str | list[str]] = {
        "url": "https://health.example.org/rss",
        "name": "Health <desk>",
        "interval": "30",
        "topics": ["tobacco"],
        "rules": "Opioids = overdose-prevention",
    }
    for change, field, message in (
        ({"url": ""}, "url", "The feed's address is required."),
        ({"url": "ftp://health.example.org/rss"}, "url", None),
        ({"interval": "0"}, "interval", "The interval must be from 1 to 10080 (not 0)."),
        ({"interval": "soon"}, "interval", "The interval must be a whole number from 1 to 10080."),
        ({"rules": "Opioids overdose-prevention"}, "rules",
         "Line 1: write it as Category = topic-slug, topic-slug."),
        ({"rules": "Opioids = nope"}, "rules", "Unknown topics: nope."),
        ({"topics": ["tobacco", "nope"]}, "topics", "Unknown topics: nope."),
    ):  # fmt: skip
        response = await post(client, "/console/feeds", csrf, **{**good, **change})
        page = await response.text()
        assert response.status == 400, change
        error = field_error(page, field)
        assert error is not None, (change, page[-3000:])
        if message:
            assert error == message
        assert field_value(page, "name") == "Health <desk>"  # kept, and escaped in the page
        assert "Health &lt;desk&gt;" in page
        assert await pool.fetchval("SELECT count(*) FROM feed_sources WHERE kind = 'feed'") == 0

    response = await post(client, "/console/feeds", csrf, **good)
    assert response.status == 303
    source = await pool.fetchrow("SELECT * FROM feed_sources WHERE kind = 'feed'")
    assert source is not None
    assert source["name"] == "Health <desk>"
    assert source["poll_interval"] == 1800
    assert source["default_topics"] == ["tobacco"]
    assert source["category_rules"] == {"opioids": ["overdose-prevention"]}

    again = await post(client, "/console/feeds", csrf, **good)
    assert again.status == 409
    assert field_error(await again.text(), "url") == "That feed is already a source."


async def test_poll_now_pause_resume_edit_and_remove(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await _topics(pool)
    client, csrf = await admin_client(pool, aiohttp_client, tmp_path, feed_allow_private=True)
    async with feed_server() as server:
        for name in ("rss2.xml", "fail"):
            url = str(server.make_url(f"/{name}"))
            rules = "Opioids = overdose-prevention\nTobacco = tobacco"
            response = await post(client, "/console/feeds", csrf, url=url, interval="60",
                                  rules=rules)  # fmt: skip
            assert response.status == 303
        rows = await pool.fetch(
            "SELECT source_id, url FROM feed_sources WHERE kind = 'feed' ORDER BY source_id"
        )
        good, bad = [r["source_id"] for r in rows]
        url_of = {r["source_id"]: r["url"] for r in rows}

        response = await post(client, f"/console/feeds/{good}/poll", csrf)
        assert response.headers["Location"] == f"/console/feeds?polled={good}#source-{good}"
        await post(client, f"/console/feeds/{bad}/poll", csrf)

    stored = await pool.fetchval("SELECT count(*) FROM items WHERE source_id = $1", good)
    assert stored > 0
    tagged = await pool.fetchval(
        "SELECT count(*) FROM items i JOIN topics t ON t.topic_id = ANY(i.topic_ids) "
        "WHERE t.slug = 'overdose-prevention'"
    )
    assert tagged >= 1  # the category rule applied
    page = await (await client.get(f"/console/feeds?polled={good}")).text()
    row = re.search(rf'<tr id="source-{good}" class="just-polled">(.*?)</tr>', page, re.S)
    assert row is not None
    assert "HTTP 200" in row.group(1)
    assert f'<td class="num">{stored}<br>' in row.group(1)
    failing = re.search(rf'<tr id="source-{bad}">(.*?)</tr>', page, re.S)
    assert failing is not None
    assert '<span class="status status-failed">failed</span>' in failing.group(1)
    assert "500" in failing.group(1)

    # Pause and resume.
    response = await post(client, f"/console/feeds/{good}/pause", csrf)
    assert response.status == 303
    assert await pool.fetchval("SELECT paused FROM feed_sources WHERE source_id = $1", good)
    page = await (await client.get(response.headers["Location"])).text()
    assert "Feed source paused." in page
    assert f'action="/console/feeds/{good}/resume"' in page
    await post(client, f"/console/feeds/{good}/resume", csrf)
    assert not await pool.fetchval("SELECT paused FROM feed_sources WHERE source_id = $1", good)

    # Edit: the form shows the source as it is, its address too.
    page = await (await client.get(f"/console/feeds/{good}")).text()
    assert field_value(page, "interval") == "60"
    assert field_value(page, "url") == url_of[good]
    assert "Opioids = overdose-prevention" in page or "opioids = overdose-prevention" in page
    # Another source's address: refused (409), with everything typed shown again.
    taken = await post(client, f"/console/feeds/{good}", csrf, name="County news",
                       interval="5", url=url_of[bad])  # fmt: skip
    assert taken.status == 409
    html = await taken.text()
    assert field_error(html, "url") == "That feed is already a source."
    assert (field_value(html, "url"), field_value(html, "name")) == (url_of[bad], "County news")
    not_http = await post(client, f"/console/feeds/{good}", csrf, interval="5", url="ftp://x/")
    assert not_http.status == 400
    assert "Only http and https" in (field_error(await not_http.text(), "url") or "")
    # The feed moved: the new address is polled at once, without the old one's poll state.
    await pool.execute(
        "UPDATE feed_sources SET etag = 'old', failures = 2, next_poll_at = now() + "
        "interval '1 hour' WHERE source_id = $1",
        good,
    )
    response = await post(client, f"/console/feeds/{good}", csrf, name="County news",
                          interval="5", topics=["tobacco"], rules="",
                          url=" https://elsewhere.example.org/feed ")  # fmt: skip
    assert response.headers["Location"] == f"/console/feeds/{good}?saved=1"
    source = await pool.fetchrow("SELECT *, next_poll_at <= now() AS due FROM feed_sources "
                                 "WHERE source_id = $1", good)  # fmt: skip
    assert source is not None
    assert (source["name"], source["poll_interval"], source["default_topics"]) == (
        "County news",
        300,
        ["tobacco"],
    )
    assert source["category_rules"] == {}
    assert source["url"] == "https://elsewhere.example.org/feed"
    assert (source["etag"], source["last_status"], source["failures"], source["due"]) == (
        None,
        None,
        0,
        True,
    )
    assert await pool.fetchval("SELECT count(*) FROM items WHERE source_id = $1", good) == stored
    refused = await post(client, f"/console/feeds/{good}", csrf, name="x" * 201, interval="5",
                         url="https://elsewhere.example.org/feed")  # fmt: skip
    assert refused.status == 400
    assert field_error(await refused.text(), "name") == (
        "The name is at most 200 characters (this is 201)."
    )

    # Remove: the confirmation says the items stay; they do.
    page = await (await client.get(f"/console/feeds/{good}/remove")).text()
    assert f"Its {stored} stored items stay" in page
    response = await post(client, f"/console/feeds/{good}/remove", csrf)
    assert response.headers["Location"] == "/console/feeds?done=removed"
    assert [s["source_id"] for s in await feeds.list_sources(pool)] == [bad]
    assert await pool.fetchval("SELECT count(*) FROM items") == stored
    assert (await client.get(f"/console/feeds/{good}")).status == 404
    assert (await post(client, f"/console/feeds/{good}/poll", csrf)).status == 404
