-- Taking subscribers out: an export, streamed with a cursor (filters: audience/search.py).

-- name: export_subscribers
-- $1 status or NULL, $2 topic id or NULL; in id order, so an export reads like the list grew.
SELECT s.subscriber_id, s.email, s.name, s.status, s.locale, s.source,
       s.created_at, s.confirmed_at, s.unsubscribed_at,
       ARRAY(SELECT t.slug FROM subscriber_topics x JOIN topics t USING (topic_id)
             WHERE x.subscriber_id = s.subscriber_id ORDER BY t.slug) AS topics
FROM subscribers s
WHERE s.status <> 'erased'
  AND ($1::text IS NULL OR s.status = $1)
  AND ($2::bigint IS NULL OR EXISTS (
          SELECT 1 FROM subscriber_topics x
          WHERE x.subscriber_id = s.subscriber_id AND x.topic_id = $2))
ORDER BY s.subscriber_id;

-- name: no_jit
-- The export's plan costs millions (a subquery per subscriber), which buys it JIT
-- compilation: 0.1-0.3 s before the first row, for no gain on a scan that streams.
SET LOCAL jit = off;
