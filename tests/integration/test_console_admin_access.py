"""Every admin page and action of the console answers 403 to an editor (and changes
nothing), every POST needs the CSRF token, and editors may still search and view
subscribers. The table must name every admin route the console registers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from aiohttp.web_urldispatcher import PrefixedSubAppResource

from mailer.accounts import api_keys, editors
from mailer.audience import topics
from mailer.content import feeds
from mailer.editorial import series
from mailer.web.console.session import Access
from tests.support.console import add_editor, console_app
from tests.support.console_admin import admin_client, editor_client, post
from tests.support.helpers import ClientFactory

# (method, path) of every admin-only route, as registered; `_ids` fills the placeholders.
ADMIN_ROUTES = [
    ("GET", "/console/subscribers/{subscriber_id}/export"),
    ("GET", "/console/subscribers/{subscriber_id}/erase"),
    ("POST", "/console/subscribers/{subscriber_id}/erase"),
    ("POST", "/console/subscribers/{subscriber_id}/unsubscribe"),
    ("GET", "/console/feeds"),
    ("POST", "/console/feeds"),
    ("GET", "/console/feeds/{source_id}"),
    ("POST", "/console/feeds/{source_id}"),
    ("POST", "/console/feeds/{source_id}/pause"),
    ("POST", "/console/feeds/{source_id}/resume"),
    ("POST", "/console/feeds/{source_id}/poll"),
    ("GET", "/console/feeds/{source_id}/remove"),
    ("POST", "/console/feeds/{source_id}/remove"),
    ("GET", "/console/topics"),
    ("POST", "/console/topics"),
    ("GET", "/console/topics/{slug}"),
    ("POST", "/console/topics/{slug}"),
    ("GET", "/console/topics/{slug}/remove"),
    ("POST", "/console/topics/{slug}/remove"),
    ("GET", "/console/series"),
    ("POST", "/console/series"),
    ("GET", "/console/series/{series_id}"),
    ("POST", "/console/series/{series_id}"),
    ("GET", "/console/series/{series_id}/remove"),
    ("POST", "/console/series/{series_id}/remove"),
    ("GET", "/console/api-keys"),
    ("POST", "/console/api-keys"),
    ("POST", "/console/api-keys/{api_key_id}/revoke"),
    ("GET", "/console/editors"),
    ("POST", "/console/editors"),
    ("POST", "/console/editors/{editor_id}/role"),
    ("POST", "/console/editors/{editor_id}/disable"),
    ("POST", "/console/editors/{editor_id}/enable"),
    ("POST", "/console/editors/{editor_id}/reset-password"),
    ("GET", "/console/subscribers/{subscriber_id}/choices"),
    ("POST", "/console/subscribers/{subscriber_id}/choices"),
    ("GET", "/console/export/subscribers"),
    ("GET", "/console/imports"),
    ("POST", "/console/imports"),
    ("GET", "/console/imports/{import_id}"),
    ("GET", "/console/imports/{import_id}/rejects"),
    ("GET", "/console/webhooks"),
    ("POST", "/console/webhooks"),
    ("GET", "/console/webhooks/{endpoint_id}"),
    ("POST", "/console/webhooks/{endpoint_id}/active"),
    ("POST", "/console/webhooks/{endpoint_id}/remove"),
    ("POST", "/console/webhooks/{endpoint_id}/resend-failed"),
    ("POST", "/console/webhooks/{endpoint_id}/deliveries/{hook_delivery_id}/resend"),
    ("GET", "/console/templates"),
    ("GET", "/console/templates/{kind}"),
    ("POST", "/console/templates/{kind}"),
    ("GET", "/console/templates/{kind}/preview.html"),
    ("POST", "/console/templates/{kind}/preview.html"),
    ("POST", "/console/templates/{kind}/check"),
    ("GET", "/console/templates/{kind}/versions/{version_id}"),
    ("POST", "/console/templates/{kind}/versions/{version_id}/revert"),
    ("POST", "/console/templates/{kind}/default"),
]
EDITOR_ROUTES = [
    ("GET", "/console/subscribers"),
    ("GET", "/console/subscribers/{subscriber_id}"),
]


async def _ids(pool: asyncpg.Pool) -> dict[str, object]:
    """One of everything the routes name; returns the values for their placeholders."""
    topic = await topics.create_topic(pool, name="Vaccines")
    source = await feeds.create_source(pool, url="https://feeds.example.org/rss")
    weekly = await series.create_series(
        pool, name="Weekly", cron="0 9 * * tue", timezone="UTC", now=datetime.now(UTC)
    )
    async with pool.acquire() as conn:
        key_id, _ = await api_keys.create_api_key(conn, "CMS")
    editor_id, _ = await editors.create_editor(pool, email="other@example.org", role="admin")
    subscriber = await pool.fetchval(
        "INSERT INTO subscribers (email, email_key, status) "
        "VALUES ('zoe@example.org', 'zoe@example.org', 'active') RETURNING subscriber_id"
    )
    endpoint_id = await pool.fetchval(
        "INSERT INTO hook_endpoints (url, secret, event_types) "
        "VALUES ('https://hooks.example.com/', 'whsec_0123456789abcdef', '{*}') "
        "RETURNING endpoint_id"
    )
    version_id = await pool.fetchval(
        "INSERT INTO mail_template_versions (kind, subject_txt, body_txt, body_html, action, "
        "editor_email) VALUES ('welcome', 's', 't', 'h', 'saved', 'a@b') RETURNING version_id"
    )
    return {
        "endpoint_id": endpoint_id,
        "hook_delivery_id": 1,
        "import_id": 1,
        "subscriber_id": subscriber,
        "source_id": source["source_id"],
        "slug": topic.slug,
        "series_id": weekly["series_id"],
        "api_key_id": key_id,
        "editor_id": editor_id,
        "kind": "welcome",
        "version_id": version_id,
    }


async def _state(pool: asyncpg.Pool) -> list[object]:
    """A fingerprint of everything an admin action could change."""
    return [
        await pool.fetch("SELECT * FROM topics ORDER BY topic_id"),
        await pool.fetch("SELECT source_id, paused, name, next_poll_at FROM feed_sources"),
        await pool.fetch("SELECT * FROM series ORDER BY series_id"),
        await pool.fetch("SELECT api_key_id, revoked_at FROM api_keys ORDER BY 1"),
        await pool.fetch("SELECT editor_id, role, disabled_at FROM editors ORDER BY 1"),
        await pool.fetch("SELECT count(*) FROM editor_password_tokens"),
        await pool.fetch("SELECT subscriber_id, status FROM subscribers ORDER BY 1"),
        await pool.fetch("SELECT endpoint_id, active FROM hook_endpoints ORDER BY 1"),
        await pool.fetch("SELECT version_id FROM mail_template_versions ORDER BY 1"),
    ]


def test_the_table_names_every_admin_route(tmp_path: Path) -> None:
    from mailer.web.app import create_app
    from tests.support.factories import engine_settings

    app = create_app(engine_settings(tmp_path), None)  # type: ignore[arg-type]
    console = next(
        r for r in app.router.resources()
        if isinstance(r, PrefixedSubAppResource) and r.canonical == "/console"
    )  # fmt: skip
    registered = set()
    for route in console._app.router.routes():
        admin = getattr(route.handler, "console_access", None) is Access.ADMIN
        if admin and route.method != "HEAD":
            assert route.resource is not None
            registered.add((route.method, route.resource.canonical))
    assert registered == set(ADMIN_ROUTES)


async def test_an_editor_gets_403_on_every_admin_route_and_nothing_changes(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    ids = await _ids(pool)
    client, csrf = await editor_client(pool, aiohttp_client, tmp_path)
    before = await _state(pool)
    wrong = []
    for method, path in ADMIN_ROUTES:
        url = path.format(**ids)
        if method == "GET":
            response = await client.get(url, allow_redirects=False)
        else:  # a well-formed form with a valid token: only the role stops it
            response = await post(client, url, csrf, name="X", role="admin",
                                  email="x@example.org", confirm_email="zoe@example.org",
                                  url="https://x.example.org/", cron="0 9 * * *",
                                  timezone="UTC", interval="5")  # fmt: skip
        page = await response.text()
        if response.status != 403 or "This page is for administrators." not in page:
            wrong.append(f"{method} {url}: {response.status}")
    assert wrong == []
    assert await _state(pool) == before


async def test_every_admin_post_without_the_csrf_token_is_refused(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    ids = await _ids(pool)
    client, _ = await admin_client(pool, aiohttp_client, tmp_path)
    before = await _state(pool)
    wrong = []
    for method, path in ADMIN_ROUTES:
        if method != "POST":
            continue
        url = path.format(**ids)
        for token in (None, "forged-token"):
            data = {"name": "X", "role": "editor", "confirm_email": "zoe@example.org"}
            if token:
                data["csrf_token"] = token
            response = await client.post(url, data=data, allow_redirects=False)
            if response.status != 403 or "security token" not in await response.text():
                wrong.append(f"{url} with token {token}: {response.status}")
    assert wrong == []
    assert await _state(pool) == before


async def test_an_editor_may_search_and_view_subscribers_without_data_requests(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    ids = await _ids(pool)
    client, _ = await editor_client(pool, aiohttp_client, tmp_path)
    for _, path in EDITOR_ROUTES:
        response = await client.get(path.format(**ids))
        page = await response.text()
        assert response.status == 200, path
        assert "zoe@example.org" in page
        # ...but is offered none of the data requests.
        for action in ("/export", "/erase", "/unsubscribe"):
            assert action not in page, (path, action)


async def test_signed_out_visitors_are_sent_to_sign_in_everywhere(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    ids = await _ids(pool)
    await add_editor(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    before = await _state(pool)
    for method, path in [*ADMIN_ROUTES, *EDITOR_ROUTES]:
        response = await client.request(method, path.format(**ids), allow_redirects=False)
        assert response.status == 303, path
        assert response.headers["Location"].startswith("/console/sign-in"), path
    assert await _state(pool) == before


async def test_the_menu_shows_subscribers_to_editors_and_admin_pages_only_to_admins(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client, _ = await editor_client(pool, aiohttp_client, tmp_path)
    page = await (await client.get("/console/")).text()
    assert 'href="/console/subscribers"' in page
    for admin_page in ("feeds", "topics", "series", "api-keys", "editors"):
        assert f'href="/console/{admin_page}"' not in page
    admin, _ = await admin_client(pool, aiohttp_client, tmp_path)
    page = await (await admin.get("/console/")).text()
    for admin_page in ("subscribers", "feeds", "topics", "series", "api-keys", "editors"):
        assert f'href="/console/{admin_page}"' in page
