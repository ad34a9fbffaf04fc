"""Subscribers per topic and series, kept for the console (editorial/counts.py): counted on
the first read, served as kept while young, recounted in the background once older than
COUNTS_MAX_AGE, and a recount that another instance holds is skipped."""

from __future__ import annotations

import asyncio

import asyncpg

from mailer.editorial import counts
from mailer.editorial.counts import audience_counts, recount_audience, topic_counts
from tests.support.factories import add_subscribers


async def _topic(pool: asyncpg.Pool, slug: str) -> int:
    topic_id: int = await pool.fetchval(
        "INSERT INTO topics (slug, name) VALUES ($1, $1) RETURNING topic_id", slug
    )
    return topic_id


async def test_counts_are_kept_then_recounted_once_old(pool: asyncpg.Pool) -> None:
    topic_id = await _topic(pool, "vaccines")
    ids = await add_subscribers(pool, 3)
    await pool.execute("UPDATE subscribers SET status = 'pending' WHERE subscriber_id = $1", ids[0])
    await pool.execute(
        "INSERT INTO subscriber_topics SELECT unnest($1::bigint[]), $2", ids, topic_id
    )
    # The first read ever counts while it waits: exact.
    assert (await topic_counts(pool))[topic_id] == counts.TopicCount(subscribers=3, active=2)

    # Young counts are served as kept: a new member shows only after a recount.
    more = await add_subscribers(pool, 1, prefix="later")
    await pool.execute("INSERT INTO subscriber_topics VALUES ($1, $2)", more[0], topic_id)
    assert (await topic_counts(pool))[topic_id].subscribers == 3

    # Once older than COUNTS_MAX_AGE, a read answers with the kept counts and recounts
    # in the background; the next read sees the new member.
    await pool.execute(
        "UPDATE audience_counts SET counted_at = now() - make_interval(secs => $1)",
        float(counts.COUNTS_MAX_AGE + 1),
    )
    assert (await topic_counts(pool))[topic_id].subscribers == 3
    for _ in range(100):
        if (await topic_counts(pool))[topic_id].subscribers == 4:
            break
        await asyncio.sleep(0.05)
    assert (await audience_counts(pool))[("topic", topic_id)] == (4, 3)
    assert ("total", 0) in await audience_counts(pool)


async def test_a_recount_held_elsewhere_is_skipped(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as holder, holder.transaction():
        assert await holder.fetchval(counts.Q["lock_audience_counts"])
        assert await recount_audience(pool) is False
    assert await recount_audience(pool) is True
