-- The console's admin pages: figures beside topics and feed sources, editor accounts by id.

-- name: topic_subscriber_counts
-- Per topic: everyone who has it, and how many of them are active.
SELECT st.topic_id, count(*) AS subscribers,
       count(*) FILTER (WHERE s.status = 'active') AS active
FROM subscriber_topics st JOIN subscribers s USING (subscriber_id)
WHERE $1::bigint IS NULL OR st.topic_id = $1
GROUP BY st.topic_id;

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

-- name: series_subscriber_counts
SELECT ss.series_id, count(*) FILTER (WHERE s.status = 'active') AS active
FROM subscriber_series ss JOIN subscribers s USING (subscriber_id)
GROUP BY ss.series_id;
