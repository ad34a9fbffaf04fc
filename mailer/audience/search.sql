-- Finding subscribers (audience/search.py); the export filters the same way.

-- name: search_subscribers
-- Newest signups first, keyset-paged on (created_at, subscriber_id). $1 is a LIKE pattern
-- on the case-folded address (a trigram index serves it where pg_trgm exists). Run with
-- plan_cache_mode = force_custom_plan: the absent filters then vanish from the plan.
SELECT s.subscriber_id, s.email, s.name, s.status, s.locale, s.source,
       s.created_at, s.confirmed_at, s.unsubscribed_at,
       ARRAY(SELECT t.slug FROM subscriber_topics x JOIN topics t USING (topic_id)
             WHERE x.subscriber_id = s.subscriber_id ORDER BY t.slug) AS topics
FROM subscribers s
WHERE s.status <> 'erased'
  AND ($1::text IS NULL OR s.email_key LIKE $1)
  AND ($2::text IS NULL OR s.status = $2)
  AND ($3::bigint IS NULL OR EXISTS (
          SELECT 1 FROM subscriber_topics x
          WHERE x.subscriber_id = s.subscriber_id AND x.topic_id = $3))
  AND ($4::timestamptz IS NULL OR s.created_at >= $4)
  AND ($5::timestamptz IS NULL OR s.created_at < $5)
  AND ($6::timestamptz IS NULL OR (s.created_at, s.subscriber_id) < ($6, $7::bigint))
ORDER BY s.created_at DESC, s.subscriber_id DESC
LIMIT $8;

-- name: custom_plans
SET LOCAL plan_cache_mode = force_custom_plan;

-- name: topic_id
SELECT topic_id FROM topics WHERE slug = $1;
