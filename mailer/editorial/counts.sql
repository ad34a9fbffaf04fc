-- The console's admin pages: figures beside topics and feed sources, editor accounts by id.

-- name: topic_usage
-- What else names a topic by its slug or id (left as they are when the topic goes).
SELECT (SELECT count(*) FROM feed_sources
        WHERE $1 = ANY(default_topics)
           OR EXISTS (SELECT 1 FROM jsonb_each(category_rules) r
                      WHERE r.value ? $1)) AS sources,
       (SELECT count(*) FROM items WHERE topic_ids @> ARRAY[$2::bigint]) AS items;

-- name: source_item_counts
SELECT source_id, count(*) AS items, max(first_seen_at) AS newest_item_at
FROM items WHERE source_id = ANY($1::bigint[])
GROUP BY source_id;

-- name: get_source
SELECT * FROM feed_sources WHERE source_id = $1 AND kind = 'feed';

-- name: list_audience_counts
-- The kept counts (0048_audience_counts.sql), with their age in seconds.
SELECT kind, key_id, subscribers, active,
       extract(epoch FROM now() - counted_at)::float8 AS age
FROM audience_counts;

-- name: lock_audience_counts
-- One recount at a time across every instance: the others skip (false).
SELECT pg_try_advisory_xact_lock(hashtext('mailer.audience_counts'));

-- name: delete_audience_counts
DELETE FROM audience_counts;

-- name: count_audience
-- One scan each of subscriber_topics, subscriber_series and subscribers (hash joins).
INSERT INTO audience_counts (kind, key_id, subscribers, active)
SELECT 'topic', st.topic_id, count(*), count(*) FILTER (WHERE s.status = 'active')
FROM subscriber_topics st JOIN subscribers s USING (subscriber_id)
GROUP BY st.topic_id
UNION ALL
SELECT 'series', ss.series_id, count(*), count(*) FILTER (WHERE s.status = 'active')
FROM subscriber_series ss JOIN subscribers s USING (subscriber_id)
GROUP BY ss.series_id
UNION ALL
SELECT 'total', 0, count(*), count(*) FILTER (WHERE status = 'active') FROM subscribers;
