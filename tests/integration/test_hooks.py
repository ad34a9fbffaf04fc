"""Outbound events delivered to a local aiohttp server: at least once, in order per
subscriber, signed, retried through an outage (500s, then refused connections), logged,
re-sent by hand; one dead endpoint holds up no other; two replicas never double-send."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from mailer.accounts.api_keys import create_api_key
from mailer.audience.consent import Context
from mailer.audience.preferences import unsubscribe
from mailer.config import Settings
from mailer.feedback import suppressions
from mailer.feedback.hook_dispatch import HookDispatcher
from mailer.metrics import Metrics
from mailer.signatures import verify
from mailer.web.app import create_app
from tests.support.factories import add_subscribers, engine_settings, wait_until
from tests.support.feedback_support import fetch_one
from tests.support.helpers import ClientFactory
from tests.support.process import free_port, mailer_env, run_mailer

SECRET = "endpoint-secret-0123456789"


@dataclass
class Receiver:
    """A CRM-like endpoint: records every request; can fail, refuse or hang."""

    port: int
    mode: str = "ok"  # ok, error (500), hang
    requests: list[dict[str, Any]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        verify(request.headers.get("Mailer-Signature"), body, [SECRET])  # raises if forged
        if self.mode == "hang":
            await asyncio.sleep(4)  # past the client's 1 s timeout
        if self.mode == "error":
            return web.Response(status=500, text="CRM database is down")
        event = json.loads(body)
        event["attempt"] = int(request.headers["Mailer-Delivery-Attempt"])
        self.requests.append(event)
        return web.json_response({"ok": True})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def ids(self) -> list[int]:
        return [r["id"] for r in self.requests]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver(free_port())
    await server.start()
    yield server
    await server.stop()


def hook_settings(tmp_path: Path) -> Settings:
    settings = engine_settings(tmp_path)
    hooks = replace(settings.hooks, allow_private=True, retry_base_seconds=0.2, timeout_seconds=1.0)
    return replace(settings, hooks=hooks)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return hook_settings(tmp_path)


async def headers(pool: asyncpg.Pool) -> dict[str, str]:
    async with pool.acquire() as conn:
        _, key = await create_api_key(conn, "admin", "admin")
    return {"Authorization": f"Bearer {key}"}


class Dispatchers:
    """Dispatcher replicas running in this event loop until the test ends."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool, self.settings = pool, settings
        self.metrics = Metrics()
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, count: int = 1) -> None:
        for i in range(count):
            dispatcher = HookDispatcher(
                self.pool, self.settings, name=f"replica-{i}", metrics=self.metrics
            )
            self.tasks.append(asyncio.create_task(dispatcher.run(self.stop)))

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(asyncio.gather(*self.tasks), 20)


@pytest.fixture
async def dispatchers(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[Dispatchers]:
    running = Dispatchers(pool, settings)
    yield running
    await running.close()


async def subscriber_events(pool: asyncpg.Pool, since: int) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT event_id, type, subject_id FROM events WHERE event_id > $1 "
        "AND subject = 'subscriber' ORDER BY event_id",
        since,
    )


async def test_events_survive_an_outage_in_order_with_retries_logged_and_resend(
    pool: asyncpg.Pool,
    settings: Settings,
    receiver: Receiver,
    dispatchers: Dispatchers,
    aiohttp_client: ClientFactory,
) -> None:
    client = await aiohttp_client(create_app(settings, pool))
    auth = await headers(pool)
    created = await client.post(
        "/api/v1/hooks",
        json={"url": receiver.url, "events": ["subscriber.*"], "secret": SECRET,
              "description": "CRM"},
        headers=auth,
    )  # fmt: skip
    assert created.status == 201
    endpoint = await created.json()
    assert endpoint["secret"] == SECRET
    start = await pool.fetchval("SELECT coalesce(max(event_id), 0) FROM events")
    people = await add_subscribers(pool, 5)
    emails = [f"reader{i}@example.org" for i in range(5)]
    dispatchers.start()

    for email in emails:  # phase 1: all is well
        await suppressions.add(pool, email, detail="test", by="test")

    async def received(count: int) -> bool:
        return len(set(receiver.ids())) >= count

    await wait_until(lambda: received(5))

    receiver.mode = "error"  # phase 2: the endpoint answers 500
    for email, subscriber_id in zip(emails, people, strict=True):
        await suppressions.lift(pool, email, by="test")
        await unsubscribe(pool, subscriber_id, Context(source="test"))

    async def pending_log() -> dict[str, Any]:
        answer = await client.get(
            f"/api/v1/hooks/{endpoint['endpoint_id']}/deliveries?status=pending", headers=auth
        )
        return dict(await answer.json())

    async def refused_with_500() -> bool:
        return any(d["last_status"] == 500 for d in (await pending_log())["deliveries"])

    await wait_until(refused_with_500)  # a fixed sleep raced a loaded CI machine
    log = await pending_log()
    assert log["deliveries"], "events wait while the endpoint fails"
    assert any(d["last_status"] == 500 and "CRM database is down" in d["last_error"]
               for d in log["deliveries"])  # fmt: skip
    attempts = dispatchers.metrics.registry.get_sample_value
    failed = attempts("mailer_webhook_attempts_total", {"outcome": "failed"})
    assert (failed or 0) >= 1  # what an operator's alert counts

    await receiver.stop()  # phase 3: the endpoint refuses connections
    for email in emails:
        await suppressions.add(pool, email, detail="again", by="test")

    async def refused_to_connect() -> bool:
        errors = await pool.fetch("SELECT last_error FROM hook_deliveries WHERE status = 'pending'")
        return any("cannot connect" in (r["last_error"] or "") for r in errors)

    await wait_until(refused_to_connect)

    receiver.mode = "ok"  # phase 4: back
    await receiver.start()
    expected = await subscriber_events(pool, start)
    assert len(expected) == 20  # suppressed, updated, unsubscribed, suppressed per person
    await wait_until(lambda: received(20), timeout=30)

    async def counted_delivered() -> bool:  # counted once the answer is read, after the receiver
        return (attempts("mailer_webhook_attempts_total", {"outcome": "delivered"}) or 0) >= 20

    await wait_until(counted_delivered)

    # Nothing lost, nothing unknown, and per subscriber in the order of the changes.
    assert set(receiver.ids()) == {e["event_id"] for e in expected}
    for subscriber_id, email in zip(people, emails, strict=True):
        mine = [r for r in receiver.requests if r["subject"]["id"] == subscriber_id]
        first_seen = list(dict.fromkeys(r["id"] for r in mine))
        assert first_seen == sorted(first_seen)
        assert [r["type"] for r in mine if r["id"] in first_seen][:4] == [
            "subscriber.suppressed",
            "subscriber.updated",
            "subscriber.unsubscribed",
            "subscriber.suppressed",
        ]
        assert mine[0]["subject"]["email"] == email
    retried = await pool.fetchval(
        "SELECT count(*) FROM hook_deliveries WHERE attempts > 1 AND status = 'delivered'"
    )
    assert retried >= 1
    assert max(r["attempt"] for r in receiver.requests) > 1

    # A manual re-send goes again.
    one = (await fetch_one(pool, "SELECT hook_delivery_id, event_id FROM hook_deliveries "
                               "ORDER BY hook_delivery_id LIMIT 1"))  # fmt: skip
    resent = await client.post(
        f"/api/v1/hooks/{endpoint['endpoint_id']}/deliveries/{one['hook_delivery_id']}/resend",
        headers=auth,
    )
    assert resent.status == 202
    await wait_until(lambda: _count(receiver, one["event_id"], 2))

    async def all_delivered() -> bool:
        listed = await (await client.get("/api/v1/hooks", headers=auth)).json()
        return bool(listed["hooks"][0]["delivered"] == 20)

    await wait_until(all_delivered)
    listed = await (await client.get("/api/v1/hooks", headers=auth)).json()
    assert "secret" not in listed["hooks"][0]


async def _nonempty(rows: Any) -> bool:
    return bool(await rows)


async def _count(receiver: Receiver, event_id: int, times: int) -> bool:
    return receiver.ids().count(event_id) >= times


async def test_a_hanging_endpoint_holds_up_no_other(
    pool: asyncpg.Pool, settings: Settings, receiver: Receiver, dispatchers: Dispatchers
) -> None:
    from mailer.feedback.hooks import create_endpoint

    slow = Receiver(free_port(), mode="hang")
    await slow.start()
    try:
        await create_endpoint(pool, settings, url=slow.url, event_types=["*"], secret=SECRET)
        await create_endpoint(pool, settings, url=receiver.url, event_types=["*"], secret=SECRET)
        await add_subscribers(pool, 10)
        dispatchers.start()
        for i in range(10):
            await suppressions.add(pool, f"reader{i}@example.org", detail="", by="test")
        loop = asyncio.get_running_loop()
        began = loop.time()

        async def all_in() -> bool:
            return len(set(receiver.ids())) >= 10

        await wait_until(all_in, timeout=10)
        assert loop.time() - began < 5  # not waiting behind the hanging one's timeouts

        async def stuck() -> list[asyncpg.Record]:
            return await pool.fetch(
                "SELECT d.last_error, d.status FROM hook_deliveries d "
                "JOIN hook_endpoints e USING (endpoint_id) WHERE e.url = $1 AND d.attempts > 0",
                slow.url,
            )

        await wait_until(lambda: _nonempty(stuck()), timeout=10)
        rows = await stuck()
        assert all("no answer within 1.0s" in r["last_error"] for r in rows)
        assert {r["status"] for r in rows} == {"pending"}
    finally:
        await slow.stop()


async def test_an_event_committed_late_is_not_overtaken(
    pool: asyncpg.Pool, settings: Settings, receiver: Receiver, dispatchers: Dispatchers
) -> None:
    """An event whose transaction is still open when later ones commit is neither lost
    nor skipped: the cursor waits for it."""
    from mailer.feedback.hooks import create_endpoint

    await create_endpoint(pool, settings, url=receiver.url, event_types=["*"], secret=SECRET)
    dispatchers.start()
    insert = "INSERT INTO events (type, subject, subject_id) VALUES ($1, 'subscriber', $2)"
    async with pool.acquire() as slow:
        transaction = slow.transaction()
        await transaction.start()
        await slow.execute(insert, "subscriber.updated", 1)  # id taken first, not committed
        await pool.execute(insert, "subscriber.updated", 2)  # committed first
        await asyncio.sleep(2)
        assert receiver.ids() == []  # the cursor did not move past the open transaction
        await transaction.commit()

    async def both() -> bool:
        return len(receiver.ids()) == 2

    await wait_until(both)
    assert [r["subject"]["id"] for r in receiver.requests] == [1, 2]


async def test_two_replicas_never_send_an_event_twice(
    pool: asyncpg.Pool, settings: Settings, receiver: Receiver, dispatchers: Dispatchers
) -> None:
    from mailer.feedback.hooks import create_endpoint

    await create_endpoint(pool, settings, url=receiver.url, event_types=["subscriber.suppressed"],
                          secret=SECRET)  # fmt: skip
    await add_subscribers(pool, 30)
    dispatchers.start(2)
    for i in range(30):
        await suppressions.add(pool, f"reader{i}@example.org", detail="", by="test")
    await suppressions.lift(pool, "reader0@example.org", by="test")  # not a matching type

    async def all_in() -> bool:
        return len(receiver.ids()) >= 30

    await wait_until(all_in, timeout=20)
    await asyncio.sleep(1.5)
    assert len(receiver.ids()) == 30 == len(set(receiver.ids()))
    assert {r["type"] for r in receiver.requests} == {"subscriber.suppressed"}


async def test_endpoint_urls_are_checked(pool: asyncpg.Pool, tmp_path: Path,
                                         aiohttp_client: ClientFactory) -> None:  # fmt: skip
    client = await aiohttp_client(create_app(engine_settings(tmp_path), pool))
    auth = await headers(pool)
    for url in ("http://127.0.0.1:9/x", "http://10.1.2.3/x", "http://localhost/x",
                "ftp://example.org/x", "http://user:pw@example.org/x"):  # fmt: skip
        response = await client.post("/api/v1/hooks", json={"url": url, "events": ["*"]},
                                     headers=auth)  # fmt: skip
        assert response.status == 400, url
        assert "url" in (await response.json())["error"]["fields"]
    bad_types = await client.post(
        "/api/v1/hooks", json={"url": "https://crm.example.org/x", "events": ["Subscriber!"]},
        headers=auth,
    )  # fmt: skip
    assert bad_types.status == 400
    ok = await client.post(
        "/api/v1/hooks", json={"url": "https://crm.example.org/x", "events": ["digest.*"]},
        headers=auth,
    )  # fmt: skip
    assert ok.status == 201
    assert (await ok.json())["secret"].startswith("whsec_")
    assert (await client.get("/api/v1/hooks/999", headers=auth)).status == 404
    spec = await (await client.get("/api/v1/openapi.json")).json()
    for path in ("/hooks", "/hooks/{endpoint_id}/deliveries", "/suppressions/lift",
                 "/bounces/reports", "/deliverability"):  # fmt: skip
        assert path in spec["paths"]


async def test_hooks_cli(pool: asyncpg.Pool, db_url: str, tmp_path: Path) -> None:
    env = mailer_env(tmp_path, MAILER_DATABASE_URL=db_url, MAILER_SECRET_KEY="x" * 40,
                     MAILER_HOOKS_ALLOW_PRIVATE="true")  # fmt: skip

    def run(*args: str) -> Any:
        return asyncio.to_thread(run_mailer, list(args), env)

    added = await run("hooks", "add", "http://127.0.0.1:9/crm", "--events",
                      "subscriber.confirmed,delivery.*")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "signing secret (shown once): whsec_" in added.stdout
    endpoint_id = await pool.fetchval("SELECT endpoint_id FROM hook_endpoints")
    listing = await run("hooks", "list")
    assert "delivery.*,subscriber.confirmed" in listing.stdout
    assert "0 delivered, 0 pending" in listing.stdout
    await pool.execute(
        "INSERT INTO events (type, subject, subject_id) VALUES ('subscriber.confirmed', "
        "'subscriber', 1)"
    )
    await pool.execute(
        "INSERT INTO hook_deliveries (endpoint_id, event_id, subject, subject_id, status, "
        "attempts, last_error, deadline_at) SELECT $1, max(event_id), 'subscriber', 1, 'failed', "
        "12, 'cannot connect', now() FROM events",
        endpoint_id,
    )
    log = await run("hooks", "deliveries", str(endpoint_id))
    assert "subscriber.confirmed" in log.stdout and "12 attempts" in log.stdout
    resent = await run("hooks", "resend", str(endpoint_id), "--failed")
    assert "1 deliveries queued again" in resent.stdout
    assert await pool.fetchval("SELECT status FROM hook_deliveries") == "pending"
    nothing = await run("hooks", "resend", str(endpoint_id))
    assert nothing.returncode == 1
    removed = await run("hooks", "remove", str(endpoint_id))
    assert removed.returncode == 0
    assert await pool.fetchval("SELECT count(*) FROM hook_deliveries") == 0


async def test_an_endpoint_task_that_fails_is_logged_and_taken_up_again(
    pool: asyncpg.Pool,
    settings: Settings,
    receiver: Receiver,
    dispatchers: Dispatchers,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from mailer.feedback.hook_dispatch import EndpointQueue
    from mailer.feedback.hooks import create_endpoint

    rounds = 0
    real_round = EndpointQueue._round

    async def first_round_fails(self: EndpointQueue) -> bool | None:
        nonlocal rounds
        rounds += 1
        if rounds == 1:
            raise ValueError("a bug in the first round")
        return await real_round(self)

    monkeypatch.setattr(EndpointQueue, "_round", first_round_fails)
    await create_endpoint(pool, settings, url=receiver.url, event_types=["*"], secret=SECRET)
    await add_subscribers(pool, 3)
    for i in range(3):
        await suppressions.add(pool, f"reader{i}@example.org", detail="", by="test")
    dispatchers.start()

    async def all_in() -> bool:
        return len(set(receiver.ids())) >= 3

    await wait_until(all_in, timeout=10)
    assert "its task failed; taking it up again" in caplog.text
    assert "a bug in the first round" in caplog.text
