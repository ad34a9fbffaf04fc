"""Console API keys (shown once, work on the API, revoked at once) and editor accounts
(invite with a one-time link, role, disable and enable, reset; never the last admin)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import asyncpg

from mailer.accounts import editors
from mailer.errors import Conflict
from tests.support.console import PASSWORD, XSS, Client, add_editor, csrf_of, sign_in
from tests.support.console_admin import admin_client, field_error, field_value, post
from tests.support.helpers import ClientFactory


async def test_a_key_is_shown_once_works_and_is_revoked(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client, csrf = await admin_client(pool, aiohttp_client, tmp_path)
    refused = await post(client, "/console/api-keys", csrf, name="   ")
    assert refused.status == 400
    assert field_error(await refused.text(), "name") == "The name is required."
    too_long = await post(client, "/console/api-keys", csrf, name="k" * 101)
    assert field_error(await too_long.text(), "name") == (
        "The name is at most 100 characters (this is 101)."
    )
    assert await pool.fetchval("SELECT count(*) FROM api_keys") == 0

    response = await post(client, "/console/api-keys", csrf, name=f"CMS {XSS}", role="editor")
    page = await response.text()
    assert response.status == 201
    assert response.headers["Cache-Control"] == "no-store"
    key = re.search(r'id="new-key" type="text" readonly value="(mk_[^"]+)"', page)
    assert key is not None
    assert "CMS &lt;script&gt;" in page
    api = await client.get("/api/v1/topics", headers={"Authorization": f"Bearer {key[1]}"})
    assert api.status == 200

    listing = await (await client.get("/console/api-keys")).text()
    assert key[1] not in listing  # never shown again
    assert key[1][:12] not in listing
    key_id = await pool.fetchval("SELECT api_key_id FROM api_keys")
    response = await post(client, f"/console/api-keys/{key_id}/revoke", csrf)
    assert response.headers["Location"] == f"/console/api-keys?revoked={key_id}"
    assert "revoked" in await (await client.get(response.headers["Location"])).text()
    api = await client.get("/api/v1/topics", headers={"Authorization": f"Bearer {key[1]}"})
    assert api.status == 401
    again = await post(client, f"/console/api-keys/{key_id}/revoke", csrf)
    assert again.status == 404


def _link(page: str) -> str:
    found = re.search(r'id="link" type="text" readonly value="http://127\.0\.0\.1:8080(/[^"]+)"',
                      page)  # fmt: skip
    assert found, page[-2000:]
    return found.group(1)


async def test_invite_gives_a_one_time_link_that_sets_the_password(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client, csrf = await admin_client(pool, aiohttp_client, tmp_path)
    for fields, field, message in (
        ({"email": ""}, "email", "The address is required."),
        ({"email": "not an address"}, "email", None),
        ({"role": "owner"}, "role", "Choose a role from the list."),
        ({"name": "n" * 101}, "name", "The name is at most 100 characters (this is 101)."),
    ):
        response = await post(client, "/console/editors", csrf,
                              **{"email": "bo@example.org", "name": "Bo", "role": "editor",
                                 **fields})  # fmt: skip
        page = await response.text()
        assert response.status == 400, fields
        error = field_error(page, field)
        assert error is not None, fields
        if message:
            assert error == message
        assert field_value(page, "email") == fields.get("email", "bo@example.org")
        assert await pool.fetchval("SELECT count(*) FROM editors") == 1

    response = await post(client, "/console/editors", csrf, email="Bo@Example.org", name="Bo",
                          role="admin")  # fmt: skip
    page = await response.text()
    assert response.status == 201
    assert "works <strong>once, for 72 hours</strong>" in page
    link = _link(page)
    duplicate = await post(client, "/console/editors", csrf, email="bo@example.org", role="editor")
    assert duplicate.status == 409
    assert field_error(await duplicate.text(), "email") == (
        "An editor with the address bo@example.org exists already."
    )
    listing = await (await client.get("/console/editors")).text()
    assert "invited" in listing
    assert link not in listing

    # The invited person sets a password with the link and signs in as an admin.
    newcomer = await client_for(aiohttp_client, client)
    form = await newcomer.get(link)
    assert form.status == 200
    fields = {"csrf_token": csrf_of(await form.text()), "password": PASSWORD,
              "password_again": PASSWORD}  # fmt: skip
    done = await newcomer.post(link, data=fields, allow_redirects=False)
    assert done.status == 303
    assert (await sign_in(newcomer, "bo@example.org"))[0] == 303
    assert (await newcomer.get("/console/editors")).status == 200
    assert (await newcomer.get(link)).status == 410  # used


async def client_for(aiohttp_client: ClientFactory, other: Client) -> Client:
    """A second browser (its own cookies) on the same app."""
    return await aiohttp_client(other.server)


async def test_role_disable_enable_and_reset(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client, csrf = await admin_client(pool, aiohttp_client, tmp_path)
    ana = await add_editor(pool, "ana@example.org", name="Ana")
    ana_browser = await client_for(aiohttp_client, client)
    assert (await sign_in(ana_browser, "ana@example.org"))[0] == 303
    assert (await ana_browser.get("/console/topics")).status == 403

    response = await post(client, f"/console/editors/{ana}/role", csrf, role="admin")
    assert response.headers["Location"] == f"/console/editors?done=role#editor-{ana}"
    assert (await ana_browser.get("/console/topics")).status == 200  # from her next page
    bad = await post(client, f"/console/editors/{ana}/role", csrf, role="owner")
    assert bad.status == 400
    assert "Choose a role from the list." in await bad.text()

    response = await post(client, f"/console/editors/{ana}/disable", csrf)
    assert response.headers["Location"] == f"/console/editors?done=disabled#editor-{ana}"
    gone = await ana_browser.get("/console/", allow_redirects=False)
    assert gone.status == 303  # her session ended at once
    assert (await sign_in(ana_browser, "ana@example.org"))[0] == 401
    reset = await post(client, f"/console/editors/{ana}/reset-password", csrf)
    assert reset.status == 409
    assert "ana@example.org is disabled; enable the account first" in await reset.text()

    await post(client, f"/console/editors/{ana}/enable", csrf)
    assert (await sign_in(ana_browser, "ana@example.org"))[0] == 303
    reset = await post(client, f"/console/editors/{ana}/reset-password", csrf)
    page = await reset.text()
    assert reset.status == 200
    assert "a password they have keeps working until they use the link" in page
    link = _link(page)
    assert (await client.get(link)).status == 200
    assert await pool.fetchval("SELECT count(*) FROM editor_password_tokens") == 1


async def test_no_admin_can_lock_everyone_out(
    pool: asyncpg.Pool, aiohttp_client: ClientFactory, tmp_path: Path
) -> None:
    client, csrf = await admin_client(pool, aiohttp_client, tmp_path)
    root = await pool.fetchval("SELECT editor_id FROM editors WHERE email = 'root@example.org'")
    for action, fields in (("role", {"role": "editor"}), ("disable", {})):
        response = await post(client, f"/console/editors/{root}/{action}", csrf, **fields)
        page = await response.text()
        assert response.status == 409, action
        assert "You cannot remove your own admin access; ask another admin." in page
    assert (await editors.find_editor(pool, "root@example.org"))["role"] == "admin"

    # Another admin may demote this one.
    eve = await add_editor(pool, "eve@example.org", role="admin", name="Eve")
    eve_browser = await client_for(aiohttp_client, client)
    assert (await sign_in(eve_browser, "eve@example.org"))[0] == 303
    eve_csrf = csrf_of(await (await eve_browser.get("/console/")).text())
    response = await post(eve_browser, f"/console/editors/{root}/role", eve_csrf, role="editor")
    assert response.status == 303
    assert (await client.get("/console/editors")).status == 403  # Root's next page

    # Two admins taking each other's role at the same moment: one of them stays admin.
    await editors.set_role(pool, "root@example.org", "admin")
    outcomes = await asyncio.gather(
        editors.change_editor(pool, eve, actor_id=root, role="editor"),
        editors.change_editor(pool, root, actor_id=eve, role="editor"),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(refused) == 1
    assert str(refused[0]).endswith("is the last enabled admin.")
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM editors WHERE role = 'admin' AND disabled_at IS NULL"
        )
        == 1
    )
