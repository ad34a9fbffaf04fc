"""Console sign-in, sessions, CSRF and roles, through the real web app and database."""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg
import pytest
from yarl import URL

from mailer.accounts import editors
from mailer.errors import Conflict, InvalidInput
from tests.support.console import (
    PASSWORD,
    Client,
    add_editor,
    console_app,
    csrf_of,
    sign_in,
    signed_in,
)
from tests.support.helpers import ClientFactory


async def test_sign_in_shows_the_dashboard_with_the_editors_menu(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await add_editor(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    status, _ = await sign_in(client)
    assert status == 303
    page = await client.get("/console/")
    html = await page.text()
    assert page.status == 200
    assert "Ana" in html
    assert page.headers["Cache-Control"] == "no-store"
    assert 'href="/console/items"' in html
    assert 'href="/console/editors"' not in html  # admin-only entries are hidden
    last = await pool.fetchval("SELECT last_sign_in_at FROM editors")
    assert last is not None


async def test_session_cookie_is_signed_http_only_same_site(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await add_editor(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    form = await client.get("/console/sign-in")
    response = await client.post(
        "/console/sign-in",
        data={"csrf_token": csrf_of(await form.text()), "email": "ana@example.org",
              "password": PASSWORD},
        allow_redirects=False,
    )  # fmt: skip
    cookie = response.cookies["mailer_console"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/console"
    assert int(cookie["max-age"]) == editors.SESSION_SECONDS
    assert not cookie["secure"]  # plain http in development
    # The database keeps a hash of the token, never the token itself.
    stored = await pool.fetchval("SELECT token_hash FROM editor_sessions")
    assert isinstance(stored, bytes)
    assert stored.hex() not in cookie.value


async def test_cookies_are_secure_behind_https(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    app = console_app(pool, tmp_path, base_url="https://news.example.org")
    client = await aiohttp_client(app)
    form = await client.get("/console/sign-in")
    assert form.cookies["mailer_console_pre"]["secure"] is True


async def test_wrong_password_and_unknown_account_get_the_same_answer(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await add_editor(pool)
    await add_editor(pool, "off@example.org")
    await editors.disable_editor(pool, "off@example.org")
    client = await aiohttp_client(console_app(pool, tmp_path))
    answers = []
    for email, password in (
        ("ana@example.org", "not the password at all"),
        ("nobody@example.org", "not the password at all"),
        ("off@example.org", PASSWORD),  # right password, disabled account
    ):
        status, html = await sign_in(client, email, password)
        without_token = html.replace(csrf_of(html), "").replace(email, "")
        answers.append((status, without_token))
    assert answers[0][0] == 401
    assert answers[0] == answers[1] == answers[2]
    assert "That address and password do not match an account." in answers[0][1]
    assert (await client.get("/console/", allow_redirects=False)).status == 303
    recorded = await pool.fetch("SELECT succeeded FROM editor_sign_in_attempts")
    assert [r["succeeded"] for r in recorded] == [False, False, False]


async def test_sign_in_is_rate_limited_per_account_and_per_ip(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await add_editor(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    for _ in range(editors.MAX_FAILURES_PER_ACCOUNT_IP):
        assert (await sign_in(client, "ana@example.org", "wrong password!!"))[0] == 401
    status, html = await sign_in(client)  # even the right password, from this IP, for now
    assert status == 429
    assert "Too many failed sign-ins" in html
    # Another account from the same IP still gets through, until the IP's limit.
    await add_editor(pool, "bo@example.org", name="Bo")
    assert (await sign_in(client, "bo@example.org"))[0] == 303
    client.session.cookie_jar.clear()  # signed out again
    remaining = editors.MAX_FAILURES_PER_IP - editors.MAX_FAILURES_PER_ACCOUNT_IP
    for i in range(remaining):
        assert (await sign_in(client, f"guess{i}@example.org", "wrong password!!"))[0] == 401
    assert (await sign_in(client, "bo@example.org"))[0] == 429


async def test_a_missing_or_wrong_csrf_token_is_refused(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await add_editor(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    await client.get("/console/sign-in")
    no_token = await client.post(
        "/console/sign-in", data={"email": "ana@example.org", "password": PASSWORD}
    )
    assert no_token.status == 403
    assert (await client.get("/console/", allow_redirects=False)).status == 303  # not signed in

    token = await signed_in(client)
    for data in ({}, {"csrf_token": ""}, {"csrf_token": token[:-2] + "xx"}):
        refused = await client.post("/console/sign-out", data=data, allow_redirects=False)
        assert refused.status == 403
        assert "security token" in await refused.text()
    header = await client.post(
        "/console/sign-out", headers={"X-CSRF-Token": "nope"}, allow_redirects=False
    )
    assert header.status == 403
    assert (await client.get("/console/")).status == 200  # still signed in
    out = await client.post("/console/sign-out", data={"csrf_token": token}, allow_redirects=False)
    assert out.status == 303


async def test_a_csrf_token_belongs_to_its_session(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await add_editor(pool)
    await add_editor(pool, "bo@example.org", name="Bo")
    app = console_app(pool, tmp_path)
    ana = await aiohttp_client(app)
    ana_token = await signed_in(ana)
    bo = await aiohttp_client(app)
    await signed_in(bo, "bo@example.org")
    stolen = await bo.post("/console/sign-out", data={"csrf_token": ana_token})
    assert stolen.status == 403


async def test_sign_out_revokes_the_session_server_side(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await add_editor(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    token = await signed_in(client)
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/console/"))
    saved = cookie["mailer_console"].value
    await client.post("/console/sign-out", data={"csrf_token": token})
    assert await pool.fetchval("SELECT count(*) FROM editor_sessions") == 0
    client.session.cookie_jar.update_cookies({"mailer_console": saved})  # a copied cookie
    again = await client.get("/console/", allow_redirects=False)
    assert again.status == 303
    assert again.headers["Location"].startswith("/console/sign-in?next=")


async def test_an_expired_or_idle_session_sends_back_to_sign_in(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await add_editor(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    await signed_in(client)
    await pool.execute("UPDATE editor_sessions SET expires_at = now() - interval '1 second'")
    page = await client.get("/console/items?topic=x", allow_redirects=False)
    assert page.status == 303
    location = URL(page.headers["Location"])
    assert location.path == "/console/sign-in"
    assert dict(location.query) == {"next": "/console/items?topic=x", "expired": "1"}
    shown = await client.get(page.headers["Location"])
    assert "Your session ended" in await shown.text()
    data = await client.get("/console/", headers={"Accept": "application/json"})
    assert data.status == 401

    await signed_in(client)
    idle = editors.IDLE_SECONDS + 60
    await pool.execute(
        "UPDATE editor_sessions SET last_seen_at = now() - make_interval(secs => $1)", idle
    )
    assert (await client.get("/console/", allow_redirects=False)).status == 303


async def test_a_tampered_cookie_is_refused(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client = await aiohttp_client(console_app(pool, tmp_path))
    client.session.cookie_jar.update_cookies({"mailer_console": "abc.def.ghi"})
    assert (await client.get("/console/", allow_redirects=False)).status == 303


async def test_disabling_an_editor_ends_their_sessions(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await add_editor(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    await signed_in(client)
    await editors.disable_editor(pool, "ANA@example.org")
    assert (await client.get("/console/", allow_redirects=False)).status == 303
    assert (await sign_in(client))[0] == 401


async def test_an_editor_gets_403_on_an_admin_page_and_an_admin_gets_it(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await add_editor(pool)
    await add_editor(pool, "root@example.org", role="admin", name="Root")
    app = console_app(pool, tmp_path)
    editor = await aiohttp_client(app)
    await signed_in(editor)
    for path in ("/console/editors", "/console/api-keys", "/console/feeds"):
        page = await editor.get(path)
        assert page.status == 403, path
        assert "for administrators" in await page.text()
    admin = await aiohttp_client(app)
    await signed_in(admin, "root@example.org")
    page = await admin.get("/console/editors")
    assert page.status == 200
    assert 'href="/console/editors"' in await page.text()


async def test_next_never_leaves_the_console(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await add_editor(pool)
    client = await aiohttp_client(console_app(pool, tmp_path))
    for target in ("https://evil.example/", "//evil.example/console/", "/console//evil", "/x"):
        form = await client.get("/console/sign-in")
        response = await client.post(
            "/console/sign-in",
            data={"csrf_token": csrf_of(await form.text()), "email": "ana@example.org",
                  "password": PASSWORD, "next": target},
            allow_redirects=False,
        )  # fmt: skip
        assert response.headers["Location"] == "/console/", target
        client.session.cookie_jar.clear()


async def test_set_password_link_works_once(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    _, token = await editors.create_editor(pool, email="new@example.org", role="admin")
    assert token is not None
    client = await aiohttp_client(console_app(pool, tmp_path))
    assert (await sign_in(client, "new@example.org", "anything at all"))[0] == 401
    url = f"/console/set-password/{token}"
    page = await client.get(url)
    assert page.status == 200
    assert "new@example.org" in await page.text()
    csrf = csrf_of(await page.text())
    differ = await client.post(
        url, data={"csrf_token": csrf, "password": PASSWORD, "password_again": PASSWORD + "x"}
    )
    assert differ.status == 400
    assert "The two passwords differ." in await differ.text()
    csrf = csrf_of(await differ.text())  # each form carries a fresh token
    short = await client.post(
        url, data={"csrf_token": csrf, "password": "short", "password_again": "short"}
    )
    assert short.status == 400
    assert "at least 12 characters" in await short.text()
    csrf = csrf_of(await short.text())
    no_csrf = await client.post(url, data={"password": PASSWORD, "password_again": PASSWORD})
    assert no_csrf.status == 403
    csrf = csrf_of(await no_csrf.text())
    done = await client.post(
        url,
        data={"csrf_token": csrf, "password": PASSWORD, "password_again": PASSWORD},
        allow_redirects=False,
    )
    assert done.status == 303
    assert (await client.get(url)).status == 410
    assert (await sign_in(client, "new@example.org"))[0] == 303


async def test_editor_accounts_are_validated(pool: asyncpg.Pool) -> None:
    await add_editor(pool)
    with pytest.raises(Conflict):
        await add_editor(pool, "ANA@Example.org")
    with pytest.raises(InvalidInput):
        await editors.create_editor(pool, email="not an address")
    with pytest.raises(InvalidInput):
        await editors.create_editor(pool, email="x@example.org", role="owner")
    with pytest.raises(InvalidInput):
        await editors.create_editor(pool, email="x@example.org", password="x@example.org")
    stored = await pool.fetchval("SELECT password_hash FROM editors")
    assert stored.startswith("$argon2id$")


def from_ip(client: Client, ip: str) -> None:
    """Requests from now on come from `ip` (the app trusts X-Forwarded-For here)."""
    client.session.headers["X-Forwarded-For"] = ip


async def test_failures_from_one_ip_do_not_keep_the_owner_out_from_another(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    await add_editor(pool, role="admin")
    client = await aiohttp_client(console_app(pool, tmp_path, trust_proxy=True))
    from_ip(client, "203.0.113.9")  # the attacker
    for _ in range(editors.MAX_FAILURES_PER_ACCOUNT_IP):
        assert (await sign_in(client, "ana@example.org", "wrong password!!"))[0] == 401
    assert (await sign_in(client, "ana@example.org", "wrong password!!"))[0] == 429
    assert (await sign_in(client))[0] == 429  # this IP is refused, whatever it sends
    from_ip(client, "198.51.100.7")  # the admin, elsewhere
    client.session.cookie_jar.clear()
    started = time.monotonic()
    status, _ = await sign_in(client)
    assert status == 303  # signed in
    assert time.monotonic() - started >= editors.slowdown(editors.MAX_FAILURES_PER_ACCOUNT_IP)
    assert (await client.get("/console/", allow_redirects=False)).status == 200


async def test_a_guess_spread_over_many_ips_slows_the_account_but_never_locks_it(
    pool: asyncpg.Pool,
) -> None:
    await add_editor(pool, role="admin")
    # 400 failures on the account in the last minutes, 5 from each of 80 addresses.
    await pool.execute(
        """INSERT INTO editor_sign_in_attempts (ip, email_key, succeeded, attempted_at)
           SELECT '192.0.2.' || (i % 80), 'ana@example.org', false,
                  now() - make_interval(secs => i)
           FROM generate_series(1, 400) AS i"""
    )
    with pytest.raises(editors.TooManyAttempts):  # each of those addresses is refused
        await editors.authenticate(pool, email="ana@example.org", password=PASSWORD, ip="192.0.2.1")
    started = time.monotonic()
    editor_id = await editors.authenticate(
        pool, email="ana@example.org", password=PASSWORD, ip="198.51.100.7"
    )
    waited = time.monotonic() - started
    assert editor_id
    assert editors.SLOWDOWN_MAX_SECONDS <= waited < editors.SLOWDOWN_MAX_SECONDS + 3
    with pytest.raises(editors.SignInRefused):  # a wrong password is still just wrong
        await editors.authenticate(
            pool, email="ana@example.org", password="wrong password!!", ip="198.51.100.8"
        )


def test_the_slowdown_grows_with_failures_up_to_its_ceiling() -> None:
    assert editors.slowdown(0) == editors.slowdown(editors.SLOWDOWN_AFTER - 1) == 0
    assert (
        0 < editors.slowdown(editors.SLOWDOWN_AFTER) < editors.slowdown(editors.SLOWDOWN_AFTER + 3)
    )
    assert editors.slowdown(10_000) == editors.SLOWDOWN_MAX_SECONDS
