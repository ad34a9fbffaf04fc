"""Numbers and multipart bodies that cannot be stored or read: a 400 naming the field
(issue 19, item 5), never a 500."""

from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailer.accounts.api_keys import create_api_key
from mailer.audience.topics import create_topic
from mailer.web.app import create_app
from tests.support.factories import engine_settings
from tests.support.helpers import ClientFactory

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def api(pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory) -> Client:
    await create_topic(pool, name="Overdose Prevention")
    async with pool.acquire() as conn:
        _, key = await create_api_key(conn, "Ana Admin", role="admin")
    client = await aiohttp_client(create_app(engine_settings(tmp_path), pool))
    client.session.headers["Authorization"] = f"Bearer {key}"
    return client


async def fields_of(response: Any) -> dict[str, str]:
    assert response.status == 400, await response.text()
    body = await response.json()
    fields: dict[str, str] = body["error"].get("fields", {})
    return fields


@pytest.mark.parametrize("position", [2**31, -(2**31) - 1, 10**30, 100_001])
async def test_a_topic_position_out_of_range_is_a_400_naming_it(api: Client, position: int) -> None:
    created = await api.post(
        "/api/v1/topics", json={"name": "Harm Reduction", "position": position}
    )
    assert "position" in await fields_of(created)
    changed = await api.patch("/api/v1/topics/overdose-prevention", json={"position": position})
    assert "position" in await fields_of(changed)
    within = await api.patch("/api/v1/topics/overdose-prevention", json={"position": 100_000})
    assert within.status == 200
    assert (await within.json())["position"] == 100_000


async def test_an_item_list_beyond_bigint_is_a_400(api: Client) -> None:
    response = await api.post("/api/v1/alerts", json={"item_id": 2**63})
    assert "item_id" in await fields_of(response)


BOUNDARY = "xyzzy"


def multipart(part_headers: bytes, content: bytes = b"email\r\nana@example.org\r\n") -> bytes:
    return (
        f"--{BOUNDARY}\r\n".encode()
        + part_headers
        + b"\r\n\r\n"
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


async def test_a_form_field_that_is_not_utf8_is_a_400(api: Client) -> None:
    body = multipart(b"Content-Disposition: form-data; name=source", b"\xff\xfe")
    response = await api.post(
        "/api/v1/subscribers/import?mode=consented",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert response.status == 400, await response.text()


@pytest.mark.parametrize(
    "part_headers",
    [
        b"Content-Disposition form-data; name=file",  # no colon
        b"Content-Disposition: form-data; name=file\r\nContent-Type: text/csv; charset=bogus\r\n"
        b"Content-Transfer-Encoding: base64\r\nX: \x00",
        b"\xff\xfe: \xff",
    ],
)
async def test_a_malformed_multipart_part_is_a_400_naming_the_file(
    api: Client, part_headers: bytes
) -> None:
    response = await api.post(
        "/api/v1/subscribers/import?mode=consented&source=test",
        data=multipart(part_headers),
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert response.status == 400, await response.text()
    assert "file" in (await response.json())["error"].get("fields", {})
