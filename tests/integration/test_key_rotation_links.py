"""After MAILER_SECRET_KEYS rotates the key, the unsubscribe and preference links of mail
sent before keep working (issue 19, item 2); once the old key is dropped, they do not."""

from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailer.audience.topics import create_topic
from mailer.tokens import Purpose, Signer
from mailer.web import keys
from mailer.web.app import create_app
from tests.support.factories import SECRET, add_subscribers, engine_settings
from tests.support.helpers import ClientFactory

Client = TestClient[web.Request, web.Application]
NEW = "a-brand-new-secret-key-0123456789-abcdef"


@pytest.fixture
async def reader(pool: asyncpg.Pool) -> int:
    topic = await create_topic(pool, name="Overdose Prevention")
    (subscriber_id,) = await add_subscribers(pool, 1)
    await pool.execute(
        "INSERT INTO subscriber_topics VALUES ($1, $2)", subscriber_id, topic.topic_id
    )
    return subscriber_id


def old_link(purpose: Purpose, subscriber_id: int) -> str:
    """A link as it went out in a mail signed with the key before the rotation."""
    return f"/{purpose.value}/{Signer(SECRET).subscriber_token(purpose, subscriber_id, 1)}"


async def test_links_sent_before_a_rotation_keep_working(
    pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory, reader: int
) -> None:
    rotated = replace(engine_settings(tmp_path), secret_key="", secret_keys=(NEW, SECRET))
    app = create_app(rotated, pool)
    client = await aiohttp_client(app)
    # New mail is signed with the new key.
    signer = app[keys.signer_key]
    assert signer.subscriber_token(Purpose.UNSUBSCRIBE, reader, 1) == Signer(NEW).subscriber_token(
        Purpose.UNSUBSCRIBE, reader, 1
    )
    assert (await client.get(old_link(Purpose.PREFERENCES, reader))).status == 200
    assert (await client.get(old_link(Purpose.UNSUBSCRIBE, reader))).status == 200
    # RFC 8058 one-click, as a mail client posts to the List-Unsubscribe URL.
    one_click = await client.post(
        old_link(Purpose.UNSUBSCRIBE, reader), data={"List-Unsubscribe": "One-Click"}
    )
    assert one_click.status == 200
    status = await pool.fetchval("SELECT status FROM subscribers WHERE subscriber_id = $1", reader)
    assert status == "unsubscribed"


async def test_links_signed_with_a_retired_key_are_refused(
    pool: asyncpg.Pool, tmp_path: Path, aiohttp_client: ClientFactory, reader: int
) -> None:
    retired = replace(engine_settings(tmp_path), secret_key=NEW)
    client = await aiohttp_client(create_app(retired, pool))
    assert (await client.get(old_link(Purpose.UNSUBSCRIBE, reader))).status == 404
