"""Topics through the editor API and the CLI."""

from pathlib import Path

import asyncpg

from mailer.accounts.api_keys import create_api_key
from mailer.config import load_settings
from mailer.web.app import create_app
from tests.support.helpers import ClientFactory
from tests.support.process import mailer_env, run_mailer


async def test_topics_api(pool: asyncpg.Pool, aiohttp_client: ClientFactory) -> None:
    async with pool.acquire() as conn:
        _, key = await create_api_key(conn, "editor", "admin")
    headers = {"Authorization": f"Bearer {key}"}
    client = await aiohttp_client(create_app(load_settings({}, dotenv=False), pool))

    created = await client.post(
        "/api/v1/topics", json={"name": "Overdose Prevention", "position": 2}, headers=headers
    )
    assert created.status == 201
    assert (await created.json())["slug"] == "overdose-prevention"
    hidden = await client.post(
        "/api/v1/topics",
        json={"name": "Staff", "slug": "staff", "public": False},
        headers=headers,
    )
    assert hidden.status == 201
    duplicate = await client.post(
        "/api/v1/topics", json={"name": "Overdose Prevention"}, headers=headers
    )
    assert duplicate.status == 409
    bad = await client.post(
        "/api/v1/topics", json={"name": "", "slug": "Bad Slug!", "public": "yes"}, headers=headers
    )
    assert bad.status == 400
    assert set((await bad.json())["error"]["fields"]) == {"public"}
    bad_slug = await client.post(
        "/api/v1/topics", json={"name": "x", "slug": "Bad Slug!"}, headers=headers
    )
    assert "slug" in (await bad_slug.json())["error"]["fields"]
    boolean_position = await client.post(
        "/api/v1/topics", json={"name": "x", "position": True}, headers=headers
    )
    assert (await boolean_position.json())["error"]["fields"] == {
        "position": "must be an integer from -100000 to 100000"
    }
    numbers_for_slugs = await client.post(
        "/api/v1/feeds", json={"url": "https://x.example.org/f", "topics": [1]}, headers=headers
    )
    assert (await numbers_for_slugs.json())["error"]["fields"] == {
        "topics": "must be a list, each string"
    }
    not_json = await client.post("/api/v1/topics", data=b"name=x", headers=headers)
    assert not_json.status == 415

    changed = await client.patch(
        "/api/v1/topics/staff", json={"description": "Internal", "position": 9}, headers=headers
    )
    assert (await changed.json())["description"] == "Internal"
    listed = await (await client.get("/api/v1/topics", headers=headers)).json()
    assert [t["slug"] for t in listed["topics"]] == ["overdose-prevention", "staff"]
    assert (await client.delete("/api/v1/topics/staff", headers=headers)).status == 204
    assert (await client.delete("/api/v1/topics/staff", headers=headers)).status == 404


async def test_topics_cli(db_url: str, tmp_path: Path) -> None:
    env = mailer_env(tmp_path, MAILER_DATABASE_URL=db_url)
    added = run_mailer(["topics", "add", "Road Safety", "--description", "Streets"], env)
    assert added.returncode == 0, added.stderr
    assert "road-safety" in added.stdout
    hidden = run_mailer(["topics", "add", "Staff News", "--hidden", "--position", "5"], env)
    assert hidden.returncode == 0
    listed = run_mailer(["topics", "list"], env).stdout
    assert "road-safety" in listed
    assert "hidden" in listed
    assert run_mailer(["topics", "update", "staff-news", "--public"], env).returncode == 0
    assert "hidden" not in run_mailer(["topics", "list"], env).stdout
    again = run_mailer(["topics", "add", "Road Safety"], env)
    assert again.returncode == 1
    assert "exists already" in again.stderr
    assert run_mailer(["topics", "remove", "road-safety"], env).returncode == 0
