"""Signup with double opt-in through the signed webhook, end to end to the SMTP sink."""

import asyncio
import email
import email.policy
import io
import json
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailer.addresses import address_hash
from mailer.audience.signup import purge_pending
from mailer.audience.topics import create_topic
from mailer.config import Settings
from mailer.signatures import sign
from mailer.tokens import Purpose, Signer
from mailer.web.app import create_app
from tests.support.factories import SECRET as SECRET_KEY
from tests.support.factories import engine_settings, running_worker
from tests.support.helpers import ClientFactory
from tests.support.smtp_sink import SmtpSink

Client = TestClient[web.Request, web.Application]
SECRET = "website-webhook-secret-1"
ROTATED = "website-webhook-secret-2"
CONSENT = "Yes, send me the newsroom's news. I can unsubscribe at any time."


def signup_settings(tmp_path: Path, **changes: Any) -> Settings:
    return replace(engine_settings(tmp_path), webhook_secrets=(SECRET, ROTATED), **changes)


@pytest.fixture
async def topics(pool: asyncpg.Pool) -> None:
    await create_topic(pool, name="Overdose Prevention", position=1)
    await create_topic(pool, name="Tobacco Control", position=2)
    await create_topic(pool, name="Staff Bulletin", slug="staff", public=False)


@pytest.fixture
async def client(
    pool: asyncpg.Pool, topics: None, tmp_path: Path, aiohttp_client: ClientFactory
) -> Client:
    return await aiohttp_client(create_app(signup_settings(tmp_path), pool))


async def post_signup(
    client: Client,
    payload: Any,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    content_type: str = "application/json",
    body: bytes | None = None,
) -> Any:
    raw = body if body is not None else json.dumps(payload).encode()
    headers = {"Content-Type": content_type, "Mailer-Signature": sign(secret, raw, timestamp)}
    return await client.post("/webhooks/signup", data=io.BytesIO(raw), headers=headers)


def signup(email: str = "Zoe@Example.org", **extra: Any) -> dict[str, Any]:
    return {
        "email": email,
        "name": "Zoë",
        "topics": ["overdose-prevention"],
        "source": "https://health.example.org/newsletter",
        "consent_text": CONSENT,
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (test)",
        **extra,
    }


async def test_signup_confirm_end_to_end(
    client: Client,
    pool: asyncpg.Pool,
    db_url: str,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> None:
    response = await post_signup(client, signup())
    assert response.status == 202
    assert await response.json() == {"status": "accepted"}
    subscriber = await pool.fetchrow("SELECT * FROM subscribers")
    assert subscriber is not None
    assert (subscriber["email"], subscriber["email_key"]) == ("Zoe@example.org", "zoe@example.org")
    assert subscriber["status"] == "pending"
    topics = await pool.fetch(
        "SELECT slug FROM subscriber_topics JOIN topics USING (topic_id) ORDER BY slug"
    )
    assert [t["slug"] for t in topics] == ["overdose-prevention"]
    ledger = await pool.fetchrow("SELECT * FROM consent_events")
    assert ledger is not None
    assert (ledger["action"], str(ledger["ip"]), ledger["topics"]) == (
        "signup",
        "203.0.113.7",
        ["overdose-prevention"],
    )
    assert await pool.fetchval("SELECT text FROM consent_texts") == CONSENT
    queued = await pool.fetchrow("SELECT kind, payload FROM deliveries")
    assert queued is not None
    assert queued["kind"] == "confirm"
    token_in_queue = json.dumps(queued["payload"])
    assert "nonce" in token_in_queue  # the link itself is derived at send time

    async with running_worker(pool, db_url, smtp_sink, signup_settings(tmp_path)):
        (mail,) = await smtp_sink.wait_for(1)
    message = mail.message
    assert message["Subject"] == "Confirm your subscription to Newsroom news"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    match = re.search(r"https://news\.example\.org(/confirm/[A-Za-z0-9_-]{32})", text)
    assert match, text
    link = match.group(1)
    stored = await pool.fetchval("SELECT token_hash FROM confirmations")
    assert link.rsplit("/", 1)[1].encode() not in stored

    # A link scanner's GET changes nothing.
    page = await client.get(link)
    assert page.status == 200
    assert 'action="' + link + '"' in await page.text()
    assert await pool.fetchval("SELECT status FROM subscribers") == "pending"

    confirmed = await client.post(link, headers={"User-Agent": "Browser/1.0"})
    assert confirmed.status == 200
    html = await confirmed.text()
    assert "Welcome, Zoë!" in html
    assert "/preferences/" in html
    assert await pool.fetchval("SELECT status FROM subscribers") == "active"
    events = await pool.fetch("SELECT type FROM events WHERE subject = 'subscriber'")
    assert [e["type"] for e in events] == ["subscriber.pending", "subscriber.confirmed"]
    actions = await pool.fetch("SELECT action FROM consent_events ORDER BY consent_event_id")
    assert [a["action"] for a in actions] == ["signup", "confirm"]

    again = await client.post(link)
    assert again.status == 200
    assert "already subscribed" in (await again.text()).lower()
    assert await pool.fetchval("SELECT count(*) FROM consent_events") == 2  # single use


async def test_international_addresses_get_their_confirmation(
    client: Client, pool: asyncpg.Pool, db_url: str, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    # An IDN domain travels as punycode; a non-ASCII local part needs SMTPUTF8 (RFC 6531),
    # which the sink offers as real relays do. Both were accepted at signup and then never
    # mailed: composing the To header failed.
    for address in ("zoe@bücher.example", "josé@exämple.org", "用户@例子.广告"):
        assert (await post_signup(client, signup(address))).status == 202
    async with running_worker(pool, db_url, smtp_sink, signup_settings(tmp_path)):
        mails = await smtp_sink.wait_for(3)
    assert sorted(r for m in mails for r in m.rcpt_tos) == sorted(
        ["zoe@xn--bcher-kva.example", "josé@exämple.org", "用户@例子.广告"]
    )
    for mail in mails:
        parsed = email.message_from_string(mail.data.decode(), policy=email.policy.SMTPUTF8)
        assert parsed["To"].addresses[0].addr_spec == mail.rcpt_tos[0]
        assert parsed["To"].addresses[0].display_name == "Zoë"
    statuses = await pool.fetch("SELECT status FROM deliveries")
    assert [r["status"] for r in statuses] == ["sent"] * 3


async def test_signatures(client: Client) -> None:
    body = json.dumps(signup()).encode()
    unsigned = await client.post(
        "/webhooks/signup", data=body, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status == 401
    assert "Mailer-Signature" in (await unsigned.json())["error"]["message"]
    assert (await post_signup(client, signup(), secret="not-the-secret-at-all")).status == 401
    assert (await post_signup(client, signup(), secret=ROTATED)).status == 202
    old = await post_signup(client, signup(), timestamp=1_600_000_000)
    assert old.status == 401
    assert "replay" in (await old.json())["error"]["message"]
    tampered = await client.post(
        "/webhooks/signup",
        data=body.replace(b"Zoe", b"Eve"),
        headers={"Content-Type": "application/json", "Mailer-Signature": sign(SECRET, body)},
    )
    assert tampered.status == 401
    garbage = await client.post(
        "/webhooks/signup",
        data=body,
        headers={"Content-Type": "application/json", "Mailer-Signature": "t=abc,v1="},
    )
    assert garbage.status == 401


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x"}, "email"),
        ({"email": 42}, "email"),
        ({"email": "not an address"}, "email"),
        ({"email": "a" * 250 + "@example.org"}, "email"),
        ({"email": "a" * 400 + "@example.org"}, "email"),
        ({"email": "x@example.org", "name": "Eve\r\nBcc: all@example.org"}, "name"),
        ({"email": "x@example.org", "name": "<script>alert(1)</script>"}, "name"),
        ({"email": "x@example.org", "name": "n" * 101}, "name"),
        ({"email": "x@example.org", "topics": "overdose-prevention;drop table"}, "topics"),
        ({"email": "x@example.org", "topics": [f"t{i}" for i in range(5000)]}, "topics"),
        ({"email": "x@example.org", "topics": [1, 2]}, "topics"),
        ({"email": "x@example.org", "topics": ["no-such-topic"]}, "topics"),
        ({"email": "x@example.org", "locale": "english please"}, "locale"),
        ({"email": "x@example.org", "consent_text": ["a"]}, "consent_text"),
    ],
)
async def test_each_bad_field_gets_a_precise_400_and_nothing_is_written(
    client: Client,
    pool: asyncpg.Pool,
    payload: dict[str, Any],
    field: str,
) -> None:
    response = await post_signup(client, payload)
    assert response.status == 400
    error = (await response.json())["error"]
    assert field in error["fields"], error
    assert await pool.fetchval("SELECT count(*) FROM subscribers") == 0
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0


async def test_body_problems(client: Client) -> None:
    big = b'{"email": "x@example.org", "name": "' + b"a" * 70_000 + b'"}'
    assert (await post_signup(client, None, body=big)).status == 413
    huge = b"x" * (10 * 1024 * 1024)
    assert (await post_signup(client, None, body=huge)).status == 413
    text = await post_signup(client, None, body=b"email=x", content_type="text/plain")
    assert text.status == 415
    broken = await post_signup(client, None, body=b'{"email": ')
    assert broken.status == 400
    assert "not valid JSON" in (await broken.json())["error"]["message"]
    array = await post_signup(client, None, body=b"[1, 2]")
    assert array.status == 400
    # 30,000 nested brackets fit in 64 KB; json.loads raised RecursionError: a 500.
    deep = await post_signup(client, None, body=b"[" * 30_000 + b"]" * 30_000)
    assert deep.status == 400
    assert "nested too deeply" in (await deep.json())["error"]["message"]


async def test_form_encoded_webhook(
    client: Client,
    pool: asyncpg.Pool,
) -> None:
    body = b"email=form%40example.org&topics=overdose-prevention&topics=staff&name=Ana"
    response = await post_signup(
        client, None, body=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status == 202
    slugs = await pool.fetch("SELECT slug FROM subscriber_topics JOIN topics USING (topic_id)")
    assert sorted(s["slug"] for s in slugs) == ["overdose-prevention", "staff"]  # hidden: signed


async def test_no_topics_means_every_public_topic(
    client: Client,
    pool: asyncpg.Pool,
) -> None:
    assert (await post_signup(client, {"email": "all@example.org"})).status == 202
    slugs = await pool.fetch("SELECT slug FROM subscriber_topics JOIN topics USING (topic_id)")
    assert sorted(s["slug"] for s in slugs) == ["overdose-prevention", "tobacco-control"]


async def kinds(pool: asyncpg.Pool) -> list[str]:
    return [r["kind"] for r in await pool.fetch("SELECT kind FROM deliveries ORDER BY 1")]


async def test_the_answer_never_reveals_the_state(
    client: Client,
    pool: asyncpg.Pool,
) -> None:
    answers = []
    answers.append(await post_signup(client, signup("a@example.org")))
    await pool.execute("UPDATE subscribers SET status = 'active', last_notice_at = NULL")
    answers.append(await post_signup(client, signup("A@EXAMPLE.org")))  # active: a notice
    answers.append(await post_signup(client, signup("a@example.org")))  # throttled: nothing
    assert await kinds(pool) == ["already_subscribed", "confirm"]

    await pool.execute("UPDATE subscribers SET status = 'unsubscribed', last_notice_at = NULL")
    answers.append(await post_signup(client, signup("a@example.org")))  # fresh opt-in
    assert await pool.fetchval("SELECT status FROM subscribers") == "pending"
    assert await kinds(pool) == ["already_subscribed", "confirm", "confirm"]

    await pool.execute(
        "INSERT INTO suppressions (email_hash, reason) VALUES ($1, 'complaint')",
        address_hash("gone@example.org"),
    )
    answers.append(await post_signup(client, signup("gone@example.org")))  # silently nothing
    assert await pool.fetchval("SELECT count(*) FROM subscribers") == 1
    assert len(await kinds(pool)) == 3
    bodies = {json.dumps(await a.json()) for a in answers}
    assert {a.status for a in answers} == {202}
    assert len(bodies) == 1


async def test_twenty_concurrent_signups_of_one_address(
    client: Client,
    pool: asyncpg.Pool,
) -> None:
    spellings = ["same@example.org", "SAME@example.org", "Same@Example.ORG", "same@EXAMPLE.org"]
    responses = await asyncio.gather(
        *(post_signup(client, signup(spellings[i % 4])) for i in range(20))
    )
    statuses = sorted({r.status for r in responses})
    assert statuses in ([202], [202, 429])  # the per-address limit may answer some
    assert await pool.fetchval("SELECT count(*) FROM subscribers") == 1
    assert await kinds(pool) == ["confirm"]


async def test_per_address_limit_answers_429(client: Client) -> None:
    for _ in range(5):
        assert (await post_signup(client, signup("busy@example.org"))).status == 202
    limited = await post_signup(client, signup("busy@example.org"))
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) > 0


async def test_bad_tampered_and_expired_confirmation_links(
    client: Client,
    pool: asyncpg.Pool,
    tmp_path: Path,
) -> None:
    for bad in ("x", "A" * 32, "A" * 31 + "!", "A" * 300):
        page = await client.get(f"/confirm/{bad}")
        assert page.status == 404, bad
        html = await page.text()
        assert "This confirmation link is not valid." in html
        # Most are cut short: the page says how to open the whole link, or sign up again.
        assert "cut short" in html and 'href="/subscribe"' in html
        for url in (f"/confirm/{bad}", f"/confirm/{bad}/resend"):
            posted = await client.post(url)
            assert posted.status == 404
            assert 'href="/subscribe"' in await posted.text()
    assert (await client.get("/confirm/../../etc/passwd")).status == 404
    # A real token, made as the worker would.
    from mailer.audience.signup import confirm_slots
    from mailer.tokens import Signer

    await post_signup(client, signup("late@example.org"))
    row = await pool.fetchrow("SELECT * FROM deliveries")
    assert row is not None
    settings = signup_settings(tmp_path)
    from tests.support.factories import SECRET as KEY

    provide = confirm_slots(Signer(KEY), settings)
    from mailer.models import ClaimedDelivery

    delivery = ClaimedDelivery(
        row["delivery_id"], None, row["subscriber_id"], "confirm", row["recipient"],
        row["payload"], None, 1, row["created_at"], None, 1, False,
    )  # fmt: skip
    link = provide(delivery)["confirm_url"].removeprefix(settings.base_url)
    tampered = link[:-1] + ("A" if link[-1] != "A" else "B")
    assert (await client.post(tampered)).status == 404
    await pool.execute("UPDATE confirmations SET expires_at = now() - interval '1 second'")
    expired = await client.get(link)
    assert expired.status == 410
    assert "/resend" in await expired.text()
    assert (await client.post(link)).status == 410
    assert await pool.fetchval("SELECT status FROM subscribers") == "pending"
    resent = await client.post(link + "/resend")
    assert resent.status == 200
    assert await kinds(pool) == ["confirm"]  # throttled: the first mail was just sent
    await pool.execute("UPDATE subscribers SET last_notice_at = NULL")
    await client.post(link + "/resend")
    assert await kinds(pool) == ["confirm", "confirm"]


async def test_unconfirmed_signups_are_purged_and_the_ledger_stays(
    client: Client,
    pool: asyncpg.Pool,
) -> None:
    await post_signup(client, signup("old@example.org"))
    await post_signup(client, signup("new@example.org"))
    await pool.execute(
        "UPDATE subscribers SET updated_at = now() - interval '31 days' "
        "WHERE email = 'old@example.org'"
    )
    assert await purge_pending(pool, 30) == 1
    remaining = await pool.fetch("SELECT email FROM subscribers")
    assert [r["email"] for r in remaining] == ["new@example.org"]
    ledger = await pool.fetch("SELECT subscriber_id, email_hash FROM consent_events")
    assert len(ledger) == 2
    orphan = [r for r in ledger if r["subscriber_id"] is None]
    assert [r["email_hash"] for r in orphan] == [address_hash("old@example.org")]


async def test_consent_ledger_is_append_only(
    client: Client,
    pool: asyncpg.Pool,
) -> None:
    await post_signup(client, signup())
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pool.execute("UPDATE consent_events SET action = 'confirm'")
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pool.execute("DELETE FROM consent_events")
    await pool.execute("UPDATE consent_events SET ip = NULL, user_agent = NULL")  # erasure


async def test_signing_up_again_keeps_the_topics_chosen(client: Client, pool: asyncpg.Pool) -> None:
    await post_signup(client, signup("twice@example.org"))
    await post_signup(
        client, signup("twice@example.org", topics=["overdose-prevention", "tobacco-control"])
    )
    slugs = await pool.fetch(
        "SELECT slug FROM subscriber_topics JOIN topics USING (topic_id) ORDER BY slug"
    )
    assert [s["slug"] for s in slugs] == ["overdose-prevention", "tobacco-control"]


async def test_a_hosted_form_placed_with_a_line_break_in_its_source_still_signs_up(
    client: Client, pool: asyncpg.Pool
) -> None:
    # ?source= becomes a hidden field; with a control character in it every post was a 400
    # that showed no error at all (the form has no "source" field to show it beside).
    page = await (await client.get("/subscribe?source=news%0Aletter%09page")).text()
    assert 'name="source" value="news letter page"' in page
    form = {
        "email": "placed@example.org",
        "topics": "overdose-prevention",
        "stamp": Signer(SECRET_KEY).form_stamp(int(time.time()) - 10),
        "source": "sidebar\r\nof the home page",
    }
    response = await client.post("/subscribe", data=form, allow_redirects=False)
    assert response.status == 303
    assert await pool.fetchval("SELECT source FROM subscribers") == (
        "hosted form: sidebar of the home page"
    )


async def confirm_links(pool: asyncpg.Pool, tmp_path: Path) -> list[str]:
    """The links of every confirmation mail queued so far, oldest first, made as the
    worker makes them."""
    from mailer.audience.signup import confirm_slots
    from mailer.models import ClaimedDelivery

    settings = signup_settings(tmp_path)
    provide = confirm_slots(Signer(SECRET_KEY), settings)
    links = []
    for row in await pool.fetch("SELECT * FROM deliveries ORDER BY delivery_id"):
        delivery = ClaimedDelivery(
            row["delivery_id"], None, row["subscriber_id"], "confirm", row["recipient"],
            row["payload"], None, 1, row["created_at"], None, 1, False,
        )  # fmt: skip
        links.append(provide(delivery)["confirm_url"].removeprefix(settings.base_url))
    return links


async def test_an_old_confirmation_link_never_says_subscribed_nor_subscribes_who_left(
    client: Client, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await post_signup(client, signup("left@example.org"))
    await pool.execute("UPDATE subscribers SET last_notice_at = NULL")
    await post_signup(client, signup("left@example.org"))  # a second link, never used
    used, unused = await confirm_links(pool, tmp_path)
    assert (await client.post(used)).status == 200
    assert "already subscribed" in (await (await client.get(unused)).text()).lower()
    subscriber_id = await pool.fetchval("SELECT subscriber_id FROM subscribers")
    unsubscribe = (
        f"/unsubscribe/{Signer(SECRET_KEY).subscriber_token(Purpose.UNSUBSCRIBE, subscriber_id, 1)}"
    )
    assert (await client.post(unsubscribe)).status == 200

    # The used link said "You're already subscribed" to someone who had left.
    page = await client.get(used)
    assert page.status == 410
    html = await page.text()
    assert "already subscribed" not in html.lower()
    assert "You unsubscribed" in html and "/preferences/" in html
    # The unused one, sent before they left, subscribed them again: it must not.
    for answer in (await client.get(unused), await client.post(unused)):
        assert answer.status == 410
        assert "You unsubscribed" in await answer.text()
    assert await pool.fetchval("SELECT status FROM subscribers") == "unsubscribed"
    actions = await pool.fetch("SELECT action FROM consent_events ORDER BY consent_event_id")
    assert [a["action"] for a in actions] == ["signup", "signup", "confirm", "unsubscribe"]

    # Signed up again: the old link is not "subscribed" either, and offers a new link.
    await pool.execute("UPDATE subscribers SET last_notice_at = NULL")
    await post_signup(client, signup("left@example.org"))
    again = await client.get(used)
    assert again.status == 410
    assert "/resend" in await again.text()
    assert (await client.post(used + "/resend")).status == 200
    assert await pool.fetchval("SELECT status FROM subscribers") == "pending"


async def test_a_rate_limited_hosted_form_comes_back_filled_in_with_when_to_retry(
    client: Client, pool: asyncpg.Pool
) -> None:
    # Was a bare "too many signups" error page: what the person typed was lost.
    stamp = Signer(SECRET_KEY).form_stamp(int(time.time()) - 10)

    async def post(email: str) -> Any:
        form = {"email": email, "name": "Zoë", "topics": "overdose-prevention", "stamp": stamp}
        return await client.post("/subscribe", data=form, allow_redirects=False)

    for _ in range(5):
        assert (await post("again@example.org")).status == 303
    by_address = await post("again@example.org")
    assert by_address.status == 429
    html = await by_address.text()
    assert "signed up several times in the last hour" in html
    assert 'value="again@example.org"' in html and 'value="Zoë"' in html
    assert 'value="overdose-prevention" checked' in html
    for n in range(4):  # ten posts a minute from one client
        assert (await post(f"other{n}@example.org")).status == 303
    by_network = await post("eleventh@example.org")
    assert by_network.status == 429
    assert int(by_network.headers["Retry-After"]) > 0
    html = await by_network.text()
    assert "Too many signups came from your network just now" in html
    assert 'value="eleventh@example.org"' in html
    assert await pool.fetchval("SELECT count(*) FROM subscribers") == 5


async def test_a_throttled_hosted_form_signup_says_no_new_mail_was_sent(
    client: Client, pool: asyncpg.Pool
) -> None:
    # The second signup within 10 minutes sends nothing (one mail per address per 10
    # minutes); it said "Check your inbox: a message is on its way" all the same.
    stamp = Signer(SECRET_KEY).form_stamp(int(time.time()) - 10)
    form = {"email": "twice@example.org", "topics": "overdose-prevention", "stamp": stamp}
    first = await client.post("/subscribe", data=form, allow_redirects=False)
    assert first.status == 303
    assert first.headers["Location"] == "/subscribe/thanks"
    assert "Check your inbox" in await (await client.get(first.headers["Location"])).text()

    await pool.execute("UPDATE subscribers SET last_notice_at = now() - interval '3 minutes'")
    second = await client.post("/subscribe/embed", data=form, allow_redirects=False)
    assert second.status == 303
    assert second.headers["Location"] == "/subscribe/thanks?embed=1&recent=7"
    page = await client.get(second.headers["Location"])
    html = await page.text()
    assert "Check your inbox" not in html
    assert "less than 10 minutes ago, so we did not send another one" in html
    assert "in 7 minutes" in html and 'href="/subscribe/embed"' in html
    assert page.headers["Content-Security-Policy"] == "frame-ancestors *"
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 1

    # A forged or odd ?recent= is only words on a page, never an error.
    for odd in ("x", "999", "-1", "²"):
        assert (await client.get(f"/subscribe/thanks?recent={odd}")).status == 200


async def test_a_suppressed_address_gets_the_hosted_forms_answers_a_mailed_one_gets(
    client: Client, pool: asyncpg.Pool
) -> None:
    # A suppressed (complained, bounced, erased) address is never mailed, so the database
    # never throttles it: a second post answered "check your inbox" where any other address
    # gets "we wrote to you minutes ago", which told that the address is suppressed.
    await pool.execute(
        "INSERT INTO suppressions (email_hash, reason) VALUES ($1, 'complaint')",
        address_hash("quiet@example.org"),
    )
    stamp = Signer(SECRET_KEY).form_stamp(int(time.time()) - 10)
    answers = {}
    for address in ("quiet@example.org", "mailed@example.org"):
        form = {"email": address, "topics": "overdose-prevention", "stamp": stamp}
        first = await client.post("/subscribe", data=form, allow_redirects=False)
        second = await client.post("/subscribe", data=form, allow_redirects=False)
        answers[address] = (first.headers["Location"], second.headers["Location"])
    assert answers["quiet@example.org"] == answers["mailed@example.org"]
    assert answers["quiet@example.org"] == ("/subscribe/thanks", "/subscribe/thanks?recent=10")


@pytest.mark.parametrize(
    ("ttl_hours", "purge_days", "lasts", "forgotten"),
    [(168, 30, "7 days", "30 days"), (36, 14, "36 hours", "14 days"), (24, 1, "1 day", "1 day")],
)
async def test_the_confirmation_mail_says_how_long_its_link_works_in_both_parts(
    pool: asyncpg.Pool,
    tmp_path: Path,
    ttl_hours: int,
    purge_days: int,
    lasts: str,
    forgotten: str,
) -> None:
    # It never said how long the link lasts, and only its text part said the address is
    # forgotten (after a hard-coded "30 days") if nobody confirms.
    from datetime import UTC, datetime

    from mailer.delivery.compose import Composer
    from mailer.models import ClaimedDelivery
    from mailer.runtime.mail_kinds import standard_slot_providers

    settings = signup_settings(
        tmp_path, confirm_ttl_seconds=ttl_hours * 3600.0, pending_purge_days=purge_days
    )
    composer = Composer(pool, settings, slot_providers=standard_slot_providers(settings))
    delivery = ClaimedDelivery(
        1, None, 1, "confirm", "zoe@example.org", {"confirmation_id": 1, "nonce": "00" * 16},
        None, 1, datetime.now(UTC), None, 1, False,
    )  # fmt: skip
    message = email.message_from_bytes(
        (await composer.compose(delivery)).data, policy=email.policy.default
    )
    for kind in ("plain", "html"):
        part = message.get_body((kind,))
        assert part is not None
        words = " ".join(part.get_content().split())
        assert f"works for {lasts}" in words, words
        assert f"your address will be forgotten in {forgotten}." in words, words
