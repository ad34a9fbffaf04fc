-- What /metrics reads from the database at scrape time: the same numbers on every replica
-- (aggregate them with max(), not sum()).

-- name: queue_depth
-- Deliveries waiting or in flight, by priority (transactional mail has no mailing) and state.
-- Two branches whose WHERE matches the partial indexes' predicates exactly, so each reads its
-- index (status IN (...) across both would scan the whole table, sent history included).
SELECT coalesce(m.priority::text, 'transactional') AS priority, d.status,
       count(*) AS n,
       coalesce(extract(epoch FROM now() - min(d.created_at)), 0)::float8 AS oldest
FROM (
    SELECT mailing_id, status, created_at FROM deliveries WHERE status IN ('queued', 'deferred')
    UNION ALL
    SELECT mailing_id, status, created_at FROM deliveries WHERE status = 'sending'
) d LEFT JOIN mailings m USING (mailing_id)
GROUP BY 1, 2;

-- name: recent_bounces
-- Bounces and complaints recorded in the last hour, by kind. The range starts at the newest
-- row older than an hour, found by walking the primary key backwards (no scan of the table).
SELECT kind, count(*) AS n
FROM bounces
WHERE bounce_id > coalesce(
    (SELECT bounce_id FROM bounces WHERE created_at < now() - interval '1 hour'
     ORDER BY bounce_id DESC LIMIT 1), 0)
  AND created_at >= now() - interval '1 hour'
GROUP BY kind;

-- name: feed_states
-- Polled feeds by state: failing (its last poll failed), ok, or paused.
SELECT CASE WHEN paused THEN 'paused' WHEN failures > 0 THEN 'failing' ELSE 'ok' END AS state,
       count(*) AS n
FROM feed_sources
WHERE kind = 'feed'
GROUP BY 1;

-- name: hook_backlog
-- Outbound webhook deliveries still pending, and endpoints whose last round failed.
SELECT (SELECT count(*) FROM hook_deliveries WHERE status = 'pending') AS pending,
       (SELECT count(*) FROM hook_deliveries WHERE status = 'pending' AND attempts > 0)
           AS retrying,
       (SELECT count(*) FROM hook_endpoints WHERE active AND failures > 0) AS failing_endpoints;
