-- Read models of the editor console: what its pages show that the domain modules don't
-- list themselves (one item in full, the dashboard's aggregates, digests with counts).

-- name: get_item_detail
SELECT i.item_id, i.title, i.link, i.summary_html, i.published_at, i.hidden, i.edited_at,
       i.author, fs.name AS source_name, fs.url AS source_url,
       ARRAY(SELECT t.slug FROM topics t WHERE t.topic_id = ANY(i.topic_ids)
             ORDER BY t.position, t.name) AS topics
FROM items i LEFT JOIN feed_sources fs USING (source_id)
WHERE i.item_id = $1;

-- name: items_by_ids
-- Items in the order given (the composer's list), with the first topic's name.
SELECT i.item_id, i.title, i.link, i.published_at, i.hidden,
       (SELECT t.name FROM topics t WHERE t.topic_id = ANY(i.topic_ids)
        ORDER BY t.position, t.name LIMIT 1) AS topic
FROM unnest($1::bigint[]) WITH ORDINALITY AS x(item_id, ord)
JOIN items i USING (item_id)
ORDER BY x.ord;

-- name: digest_item_ids
SELECT item_id FROM mailing_items WHERE mailing_id = $1 ORDER BY position;

-- name: candidate_items
-- Items an editor may add to a digest: recent, visible, with a topic, not in it already,
-- never sent in this series.
SELECT i.item_id, i.title, i.published_at,
       (SELECT t.name FROM topics t WHERE t.topic_id = ANY(i.topic_ids)
        ORDER BY t.position, t.name LIMIT 1) AS topic
FROM items i
WHERE NOT i.hidden AND cardinality(i.topic_ids) > 0
  AND i.published_at > now() - interval '30 days'
  AND NOT EXISTS (SELECT 1 FROM mailing_items mi WHERE mi.mailing_id = $1 AND mi.item_id = i.item_id)
  AND NOT EXISTS (
      SELECT 1 FROM mailing_items mi JOIN mailings m USING (mailing_id)
      WHERE mi.item_id = i.item_id AND m.series_id = $2 AND m.status IN ('sending', 'sent'))
ORDER BY i.published_at DESC, i.item_id DESC
LIMIT 100;

-- name: list_digests_page
SELECT m.mailing_id, m.status, m.subject, m.scheduled_at, m.started_at, m.finished_at,
       m.created_at, s.name AS series_name,
       (SELECT count(*) FROM mailing_items mi WHERE mi.mailing_id = m.mailing_id) AS items
FROM mailings m LEFT JOIN series s USING (series_id)
WHERE m.kind = 'digest' AND ($1::text IS NULL OR m.status = $1)
ORDER BY coalesce(m.scheduled_at, m.started_at, m.created_at) DESC, m.mailing_id DESC
LIMIT 100;

-- name: next_scheduled
SELECT m.mailing_id, m.subject, m.scheduled_at, m.kind, s.name AS series_name
FROM mailings m LEFT JOIN series s USING (series_id)
WHERE m.status = 'scheduled'
ORDER BY m.scheduled_at
LIMIT 10;

-- name: upcoming_series
SELECT series_id, name, next_run_at, mode FROM series
WHERE active AND next_run_at IS NOT NULL ORDER BY next_run_at LIMIT 10;

-- name: recent_mailings
-- The last sends (started), newest first, with their kept counts when they are over.
SELECT m.mailing_id, m.kind, m.status, m.subject, m.started_at, m.finished_at,
       c.total, c.sent, c.failed, c.suppressed, c.cancelled
FROM mailings m LEFT JOIN mailing_counts c USING (mailing_id)
WHERE m.started_at IS NOT NULL
ORDER BY m.started_at DESC
LIMIT $1;

-- name: count_mailing
-- One scan of a finished mailing's deliveries, kept so it is never scanned again. Only
-- when nothing is still in flight (a cancelled mailing's last rows finish after it).
INSERT INTO mailing_counts (mailing_id, total, sent, failed, suppressed, cancelled)
SELECT $1, count(*), count(*) FILTER (WHERE d.status = 'sent'),
       count(*) FILTER (WHERE d.status = 'failed'),
       count(*) FILTER (WHERE d.status = 'suppressed'),
       count(*) FILTER (WHERE d.status = 'cancelled')
FROM deliveries d
WHERE d.mailing_id = $1
HAVING count(*) FILTER (WHERE d.status IN ('queued', 'sending', 'deferred')) = 0
ON CONFLICT (mailing_id) DO NOTHING;

-- name: bounces_by_mailing
-- Bounces since the oldest of these mailings started, each looked up by its delivery's key
-- (a join would scan every delivery: 0.3 s at 1,000,000 rows; this reads only the bounces).
SELECT mailing_id, count(*) AS bounced
FROM (SELECT (SELECT d.mailing_id FROM deliveries d WHERE d.delivery_id = b.delivery_id)
             AS mailing_id
      FROM bounces b
      WHERE b.kind IN ('hard', 'soft', 'block') AND b.created_at >= $2) found
WHERE mailing_id = ANY($1::bigint[])
GROUP BY mailing_id;

-- name: sends_per_day
-- Bulk mail sent per day (by the day its mailing started) over the last $1 days, from the
-- kept counts: no scan of deliveries.
SELECT (m.started_at AT TIME ZONE $2)::date AS day, sum(c.sent)::bigint AS sent,
       array_agg(m.mailing_id) AS mailing_ids
FROM mailings m JOIN mailing_counts c USING (mailing_id)
WHERE m.started_at > now() - make_interval(days => $1)
GROUP BY 1 ORDER BY 1;

-- name: mailings_to_count
-- Finished mailings of the window (any age when $1 is NULL; of kind $2 when given) whose
-- counts are not kept yet.
SELECT m.mailing_id FROM mailings m
WHERE m.status IN ('sent', 'cancelled')
  AND ($1::int IS NULL OR m.started_at > now() - make_interval(days => $1))
  AND ($2::text IS NULL OR m.kind = $2)
  AND NOT EXISTS (SELECT 1 FROM mailing_counts c WHERE c.mailing_id = m.mailing_id)
LIMIT 200;

-- name: list_topics
-- Topics in the dashboard's order; their counts are kept (editorial/counts.py).
SELECT topic_id, slug, name FROM topics ORDER BY position, name;

-- name: get_topic_changes
-- The kept topic_changes of a zone and window, with their age in seconds.
SELECT changes, extract(epoch FROM now() - counted_at)::float8 AS age
FROM topic_changes_kept WHERE days = $1 AND zone = $2;

-- name: keep_topic_changes
-- Per day and topic, the net change in subscribers from the consent ledger: each entry's
-- topic set against the same person's previous entry (a confirmation adds its topics, a
-- preference change adds and removes, an unsubscribe or erasure removes all). Only the
-- people with an entry in the window are walked (their earlier entries too). Kept, as
-- [[day, slug, change], ...], for the zone and window.
WITH people AS (
    SELECT DISTINCT email_hash FROM consent_events
    WHERE occurred_at > now() - make_interval(days => $1)
      AND action IN ('confirm', 'preferences', 'import', 'unsubscribe', 'erase')
), entries AS (
    SELECT ce.email_hash, ce.occurred_at,
           CASE WHEN ce.action IN ('confirm', 'preferences', 'import')
                THEN coalesce(ce.topics, '{}') ELSE '{}'::text[] END AS now_topics
    FROM people JOIN consent_events ce USING (email_hash)
    WHERE ce.action IN ('confirm', 'preferences', 'import', 'unsubscribe', 'erase')
), paired AS (
    SELECT occurred_at, now_topics,
           coalesce(lag(now_topics) OVER (PARTITION BY email_hash ORDER BY occurred_at),
                    '{}'::text[]) AS before_topics
    FROM entries
), deltas AS (
    SELECT occurred_at, slug, 1 AS delta
    FROM paired, unnest(now_topics) AS slug WHERE NOT slug = ANY(before_topics)
    UNION ALL
    SELECT occurred_at, slug, -1
    FROM paired, unnest(before_topics) AS slug WHERE NOT slug = ANY(now_topics)
), changes AS (
    SELECT (occurred_at AT TIME ZONE $2)::date AS day, slug, sum(delta)::bigint AS change
    FROM deltas
    WHERE occurred_at > now() - make_interval(days => $1)
    GROUP BY 1, 2
)
INSERT INTO topic_changes_kept (zone, days, changes)
SELECT $2, $1, coalesce(jsonb_agg(jsonb_build_array(day, slug, change) ORDER BY day), '[]')
FROM changes
ON CONFLICT (zone, days) DO UPDATE SET changes = excluded.changes, counted_at = now()
RETURNING changes;

-- name: recent_subscriber_changes
SELECT ce.action, ce.occurred_at, s.email, ce.topics, ce.source
FROM consent_events ce LEFT JOIN subscribers s USING (subscriber_id)
WHERE ce.action IN ('confirm', 'unsubscribe')
ORDER BY ce.consent_event_id DESC
LIMIT $1;
