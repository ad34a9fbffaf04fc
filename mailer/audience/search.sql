-- Finding subscribers (audience/search.py); the export filters the same way.

-- name: search_subscribers
-- Newest signups first, keyset-paged on (created_at, subscriber_id). $1 is a LIKE pattern
-- on the case-folded address (with a fragment the two queries below run instead). Run with
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

-- name: search_subscribers_in_topic
-- The same with a topic ($3): EXISTS on its own becomes a semi-join that walks the topic's
-- index beside the subscribers' (inside "$3 IS NULL OR" it was a hash of every member,
-- 250,000 ids: 0.25 s at 1,000,000 subscribers).
SELECT s.subscriber_id, s.email, s.name, s.status, s.locale, s.source,
       s.created_at, s.confirmed_at, s.unsubscribed_at,
       ARRAY(SELECT t.slug FROM subscriber_topics x JOIN topics t USING (topic_id)
             WHERE x.subscriber_id = s.subscriber_id ORDER BY t.slug) AS topics
FROM subscribers s
WHERE s.status <> 'erased'
  AND ($1::text IS NULL OR s.email_key LIKE $1)
  AND ($2::text IS NULL OR s.status = $2)
  AND $3::bigint IS NOT NULL AND EXISTS (
          SELECT 1 FROM subscriber_topics x
          WHERE x.subscriber_id = s.subscriber_id AND x.topic_id = $3)
  AND ($4::timestamptz IS NULL OR s.created_at >= $4)
  AND ($5::timestamptz IS NULL OR s.created_at < $5)
  AND ($6::timestamptz IS NULL OR (s.created_at, s.subscriber_id) < ($6, $7::bigint))
ORDER BY s.created_at DESC, s.subscriber_id DESC
LIMIT $8;

-- name: search_recent_by_fragment
-- An address fragment, first among the newest $9 signups only (after the cursor when
-- given): a fragment most addresses share fills the page there at once. Same filters.
SELECT s.subscriber_id, s.email, s.name, s.status, s.locale, s.source,
       s.created_at, s.confirmed_at, s.unsubscribed_at,
       ARRAY(SELECT t.slug FROM subscriber_topics x JOIN topics t USING (topic_id)
             WHERE x.subscriber_id = s.subscriber_id ORDER BY t.slug) AS topics
FROM (SELECT * FROM subscribers
      WHERE ($6::timestamptz IS NULL OR (created_at, subscriber_id) < ($6, $7::bigint))
      ORDER BY created_at DESC, subscriber_id DESC
      LIMIT $9) s
WHERE s.status <> 'erased'
  AND s.email_key LIKE $1
  AND ($2::text IS NULL OR s.status = $2)
  AND ($3::bigint IS NULL OR EXISTS (
          SELECT 1 FROM subscriber_topics x
          WHERE x.subscriber_id = s.subscriber_id AND x.topic_id = $3))
  AND ($4::timestamptz IS NULL OR s.created_at >= $4)
  AND ($5::timestamptz IS NULL OR s.created_at < $5)
ORDER BY s.created_at DESC, s.subscriber_id DESC
LIMIT $8;

-- name: search_by_fragment
-- An address fragment the newest signups do not fill a page with: the trigram index finds
-- the matching addresses first (the CTE keeps the planner from walking signups newest
-- first and testing every address: seconds at 1,000,000 for a fragment that matches
-- nobody), then the few found are ordered (inside the CTE an ORDER BY would bring the
-- walk back; a join to subscribers a merge join down an index). The index is on the address with
-- its separators as letters (0049_address_trigrams.sql), so trigrams span the dots and @;
-- the address itself is tested too. Same filters as above.
WITH found AS MATERIALIZED (
    SELECT s.subscriber_id, s.email, s.name, s.status, s.locale, s.source,
           s.created_at, s.confirmed_at, s.unsubscribed_at
    FROM subscribers s
    WHERE translate(s.email_key, '.@-+', 'ªºµð') LIKE translate($1, '.@-+', 'ªºµð')
      AND s.email_key LIKE $1
      AND s.status <> 'erased'
      AND ($2::text IS NULL OR s.status = $2)
      AND ($3::bigint IS NULL OR EXISTS (
              SELECT 1 FROM subscriber_topics x
              WHERE x.subscriber_id = s.subscriber_id AND x.topic_id = $3))
      AND ($4::timestamptz IS NULL OR s.created_at >= $4)
      AND ($5::timestamptz IS NULL OR s.created_at < $5)
      AND ($6::timestamptz IS NULL OR (s.created_at, s.subscriber_id) < ($6, $7::bigint))
)
SELECT f.*,
       ARRAY(SELECT t.slug FROM subscriber_topics x JOIN topics t USING (topic_id)
             WHERE x.subscriber_id = f.subscriber_id ORDER BY t.slug) AS topics
FROM found f
ORDER BY f.created_at DESC, f.subscriber_id DESC
LIMIT $8;

-- name: custom_plans
SET LOCAL plan_cache_mode = force_custom_plan;

-- name: topic_id
SELECT topic_id FROM topics WHERE slug = $1;
