-- The console's subscriber pages: search, and everything about one person on one screen.

-- name: custom_plans
-- Plan the search for the filters actually given (a generic plan would keep every
-- "$n IS NULL OR ..." branch and could not use an index on the address).
SET LOCAL plan_cache_mode = force_custom_plan;

-- name: search_timeout
-- A search is bounded: past this it is cancelled and the editor asked for a longer fragment.
SET LOCAL statement_timeout = '5s';

-- name: search_subscribers
-- Newest first, keyset-paged on the primary key (no OFFSET: page 1,000 costs what page 1
-- does). $1 a LIKE pattern on the case-folded address (wildcards in the fragment escaped by
-- the caller; with a fragment the two queries below run instead), $2 status, $3 topic
-- id, $4 the last id of the previous page, $6 signed up at or after (each NULL when not
-- given), $5 the page size.
SELECT s.subscriber_id, s.email, s.name, s.status, s.created_at, s.confirmed_at,
       s.unsubscribed_at, s.paused_until,
       ARRAY(SELECT t.name FROM subscriber_topics x JOIN topics t USING (topic_id)
             WHERE x.subscriber_id = s.subscriber_id ORDER BY t.position, t.name) AS topics
FROM subscribers s
WHERE ($1::text IS NULL OR s.email_key LIKE $1)
  AND ($2::text IS NULL OR s.status = $2)
  AND ($3::bigint IS NULL OR EXISTS (
          SELECT 1 FROM subscriber_topics x
          WHERE x.subscriber_id = s.subscriber_id AND x.topic_id = $3))
  AND ($4::bigint IS NULL OR s.subscriber_id < $4)
  AND ($6::timestamptz IS NULL OR s.created_at >= $6)
ORDER BY s.subscriber_id DESC
LIMIT $5;

-- name: search_subscribers_in_topic
-- The same with a topic ($3): EXISTS on its own becomes a semi-join that walks the topic's
-- index beside the subscribers' (inside "$3 IS NULL OR" it was a hash of every member,
-- 250,000 ids: 0.25 s at 1,000,000 subscribers).
SELECT s.subscriber_id, s.email, s.name, s.status, s.created_at, s.confirmed_at,
       s.unsubscribed_at, s.paused_until,
       ARRAY(SELECT t.name FROM subscriber_topics x JOIN topics t USING (topic_id)
             WHERE x.subscriber_id = s.subscriber_id ORDER BY t.position, t.name) AS topics
FROM subscribers s
WHERE ($1::text IS NULL OR s.email_key LIKE $1)
  AND ($2::text IS NULL OR s.status = $2)
  AND $3::bigint IS NOT NULL AND EXISTS (
          SELECT 1 FROM subscriber_topics x
          WHERE x.subscriber_id = s.subscriber_id AND x.topic_id = $3)
  AND ($4::bigint IS NULL OR s.subscriber_id < $4)
  AND ($6::timestamptz IS NULL OR s.created_at >= $6)
ORDER BY s.subscriber_id DESC
LIMIT $5;

-- name: search_recent_by_fragment
-- An address fragment, first among the newest $7 subscribers only (below $4 when given):
-- a fragment most addresses share fills the page there at once. Same filters as above.
SELECT s.subscriber_id, s.email, s.name, s.status, s.created_at, s.confirmed_at,
       s.unsubscribed_at, s.paused_until,
       ARRAY(SELECT t.name FROM subscriber_topics x JOIN topics t USING (topic_id)
             WHERE x.subscriber_id = s.subscriber_id ORDER BY t.position, t.name) AS topics
FROM (SELECT * FROM subscribers
      WHERE ($4::bigint IS NULL OR subscriber_id < $4)
      ORDER BY subscriber_id DESC
      LIMIT $7) s
WHERE s.email_key LIKE $1
  AND ($2::text IS NULL OR s.status = $2)
  AND ($3::bigint IS NULL OR EXISTS (
          SELECT 1 FROM subscriber_topics x
          WHERE x.subscriber_id = s.subscriber_id AND x.topic_id = $3))
  AND ($6::timestamptz IS NULL OR s.created_at >= $6)
ORDER BY s.subscriber_id DESC
LIMIT $5;

-- name: search_by_fragment
-- An address fragment the newest subscribers do not fill a page with: the trigram index
-- finds the matching addresses first (a bitmap scan; the CTE keeps the planner from walking
-- the primary key newest first and testing every address: 2.3 s at 1,000,000 for a fragment
-- that matches nobody), then the few found are ordered (inside the CTE an ORDER BY would
-- bring the walk back; a join to subscribers a merge join down the primary key, 0.6 s for
-- "ng.1"). The index is on the
-- address with its separators as letters (0049_address_trigrams.sql), so trigrams span the
-- dots and @; the address itself is tested too. Same filters as above.
WITH found AS MATERIALIZED (
    SELECT s.subscriber_id, s.email, s.name, s.status, s.created_at, s.confirmed_at,
           s.unsubscribed_at, s.paused_until
    FROM subscribers s
    WHERE translate(s.email_key, '.@-+', 'ªºµð') LIKE translate($1, '.@-+', 'ªºµð')
      AND s.email_key LIKE $1
      AND ($4::bigint IS NULL OR s.subscriber_id < $4)
      AND ($2::text IS NULL OR s.status = $2)
      AND ($3::bigint IS NULL OR EXISTS (
              SELECT 1 FROM subscriber_topics x
              WHERE x.subscriber_id = s.subscriber_id AND x.topic_id = $3))
      AND ($6::timestamptz IS NULL OR s.created_at >= $6)
)
SELECT f.*,
       ARRAY(SELECT t.name FROM subscriber_topics x JOIN topics t USING (topic_id)
             WHERE x.subscriber_id = f.subscriber_id ORDER BY t.position, t.name) AS topics
FROM found f
ORDER BY f.subscriber_id DESC
LIMIT $5;

-- name: subscriber_series
SELECT se.series_id, se.name
FROM subscriber_series ss JOIN series se USING (series_id)
WHERE ss.subscriber_id = $1 ORDER BY se.name;

-- name: consent_ledger
-- Newest first: the subscriber's entries, and those of earlier signups of the same address
-- whose row was purged (unlinked, found by the address hash). The wording by its SHA-256.
SELECT ce.consent_event_id, ce.action, ce.occurred_at, ce.ip, ce.user_agent, ce.source,
       ce.topics, ce.detail, encode(ce.consent_text_hash, 'hex') AS text_hash,
       ct.text AS consent_text, ce.subscriber_id IS NULL AS earlier_signup
FROM consent_events ce LEFT JOIN consent_texts ct ON ct.text_hash = ce.consent_text_hash
WHERE ce.subscriber_id = $1 OR (ce.subscriber_id IS NULL AND ce.email_hash = $2)
ORDER BY ce.consent_event_id DESC
LIMIT $3;

-- name: recent_deliveries
SELECT d.delivery_id, d.kind, d.status, d.attempts, d.last_reply, d.created_at, d.sent_at,
       d.finished_at, d.mailing_id, m.subject
FROM deliveries d LEFT JOIN mailings m USING (mailing_id)
WHERE d.subscriber_id = $1
ORDER BY d.delivery_id DESC
LIMIT $2;

-- name: recent_bounces
SELECT bounce_id, delivery_id, kind, source, detail, created_at
FROM bounces WHERE subscriber_id = $1
ORDER BY created_at DESC
LIMIT $2;

-- name: suppression
SELECT reason, detail, created_at FROM suppressions WHERE email_hash = $1;
