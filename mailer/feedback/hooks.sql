-- Outbound event webhooks: endpoints, fan-out from the outbox, per-subject delivery, log.

-- name: create_endpoint
INSERT INTO hook_endpoints (url, secret, event_types, description)
VALUES ($1, $2, $3, $4)
RETURNING endpoint_id, url, event_types, description, active, created_at;

-- name: list_endpoints
SELECT e.endpoint_id, e.url, e.event_types, e.description, e.active, e.failures,
       e.blocked_until, e.last_success_at, e.last_failure_at, e.created_at, e.leased_by,
       count(d.*) FILTER (WHERE d.status = 'pending') AS pending,
       count(d.*) FILTER (WHERE d.status = 'failed') AS failed,
       count(d.*) FILTER (WHERE d.status = 'delivered') AS delivered
FROM hook_endpoints e LEFT JOIN hook_deliveries d USING (endpoint_id)
WHERE ($1::bigint IS NULL OR e.endpoint_id = $1)
GROUP BY e.endpoint_id ORDER BY e.endpoint_id;

-- name: update_endpoint
UPDATE hook_endpoints
SET url = coalesce($2, url), secret = coalesce($3, secret),
    event_types = coalesce($4, event_types), description = coalesce($5, description),
    active = coalesce($6, active),
    failures = CASE WHEN $6 THEN 0 ELSE failures END,
    blocked_until = CASE WHEN $6 THEN NULL ELSE blocked_until END,
    updated_at = now()
WHERE endpoint_id = $1
RETURNING endpoint_id;

-- name: delete_endpoint
DELETE FROM hook_endpoints WHERE endpoint_id = $1 RETURNING endpoint_id;

-- name: active_endpoint_ids
SELECT endpoint_id FROM hook_endpoints WHERE active ORDER BY endpoint_id;

-- name: take_lease
-- One replica serves an endpoint at a time; a lease not renewed runs out and another
-- replica takes over (the delivery log tells it where things stand).
UPDATE hook_endpoints
SET leased_by = $2, lease_until = now() + make_interval(secs => $3)
WHERE endpoint_id = $1 AND active
  AND (leased_by = $2 OR lease_until IS NULL OR lease_until < now())
RETURNING endpoint_id, url, secret, failures, coalesce(blocked_until > now(), false) AS blocked;

-- name: release_lease
UPDATE hook_endpoints SET leased_by = NULL, lease_until = NULL
WHERE endpoint_id = $1 AND leased_by = $2;

-- name: fan_out
-- Events past the endpoint's cursor whose transactions have all finished (so none can
-- appear behind the cursor later), matched against its event types, become its delivery
-- rows; the cursor moves past everything examined, matching or not.
WITH horizon AS MATERIALIZED (
    SELECT events_horizon() AS txid
), endpoint AS (
    SELECT endpoint_id, event_types, cursor_txid, cursor_event_id
    FROM hook_endpoints WHERE endpoint_id = $1 AND leased_by = $2
), batch AS (
    SELECT e.event_id, e.txid, e.type, e.subject, e.subject_id,
           (p.event_types && ARRAY['*', e.type, split_part(e.type, '.', 1) || '.*']) AS wanted
    FROM endpoint p, horizon h, events e
    WHERE (e.txid, e.event_id) > (p.cursor_txid, p.cursor_event_id)
      AND e.txid < h.txid
    ORDER BY e.txid, e.event_id
    LIMIT $3
), added AS (
    INSERT INTO hook_deliveries (endpoint_id, event_id, subject, subject_id, deadline_at)
    SELECT $1, event_id, subject, subject_id, now() + make_interval(secs => $4)
    FROM batch WHERE wanted
    ORDER BY txid, event_id
    ON CONFLICT (endpoint_id, event_id) DO NOTHING
    RETURNING 1
), moved AS (
    UPDATE hook_endpoints h SET cursor_txid = last.txid, cursor_event_id = last.event_id
    FROM (SELECT txid, event_id FROM batch ORDER BY txid DESC, event_id DESC LIMIT 1) last
    WHERE h.endpoint_id = $1
    RETURNING 1
)
SELECT (SELECT count(*) FROM batch) AS examined, (SELECT count(*) FROM added) AS added;

-- name: expire_deliveries
-- Rows that waited past their deadline (an endpoint down for days) are given up.
UPDATE hook_deliveries
SET status = 'failed',
    last_error = coalesce(last_error || '; ', '') || 'gave up: not delivered before the deadline'
WHERE endpoint_id = $1 AND status = 'pending' AND deadline_at < now();

-- name: claim_heads
-- Per subject, only the oldest pending event may go (order per subscriber); of those,
-- the ones due, oldest first.
WITH heads AS (
    SELECT DISTINCT ON (subject, subject_id) hook_delivery_id, next_attempt_at
    FROM hook_deliveries
    WHERE endpoint_id = $1 AND status = 'pending'
    ORDER BY subject, subject_id, event_id
)
SELECT d.hook_delivery_id, d.event_id, d.attempts, d.deadline_at,
       e.type, e.subject, e.subject_id, e.payload, e.created_at, s.email
FROM heads h
JOIN hook_deliveries d USING (hook_delivery_id)
JOIN events e ON e.event_id = d.event_id
LEFT JOIN subscribers s ON e.subject = 'subscriber' AND s.subscriber_id = e.subject_id
WHERE h.next_attempt_at <= now()
ORDER BY d.event_id
LIMIT $2;

-- name: mark_delivered
UPDATE hook_deliveries d
SET status = 'delivered', attempts = d.attempts + 1, last_attempt_at = now(),
    delivered_at = now(), last_status = r.status, last_error = NULL
FROM unnest($1::bigint[], $2::int[]) AS r (hook_delivery_id, status)
WHERE d.hook_delivery_id = r.hook_delivery_id;

-- name: mark_attempt_failed
-- A failed attempt waits its backoff, or is given up once the next try would be late.
UPDATE hook_deliveries d
SET attempts = d.attempts + 1, last_attempt_at = now(), last_status = r.status,
    last_error = r.error,
    next_attempt_at = now() + make_interval(secs => r.delay),
    status = CASE WHEN now() + make_interval(secs => r.delay) > d.deadline_at
                  THEN 'failed' ELSE 'pending' END
FROM unnest($1::bigint[], $2::int[], $3::text[], $4::float8[])
     AS r (hook_delivery_id, status, error, delay)
WHERE d.hook_delivery_id = r.hook_delivery_id;

-- name: endpoint_succeeded
UPDATE hook_endpoints SET failures = 0, blocked_until = NULL, last_success_at = now()
WHERE endpoint_id = $1;

-- name: endpoint_failed
UPDATE hook_endpoints
SET failures = failures + 1, last_failure_at = now(),
    blocked_until = now() + make_interval(secs => $2)
WHERE endpoint_id = $1;

-- name: list_deliveries
SELECT d.hook_delivery_id, d.event_id, e.type, d.subject, d.subject_id, d.status,
       d.attempts, d.last_attempt_at, d.last_status, d.last_error, d.next_attempt_at,
       d.deadline_at, d.delivered_at, d.created_at
FROM hook_deliveries d JOIN events e USING (event_id)
WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2)
  AND ($3::bigint IS NULL OR d.hook_delivery_id < $3)
ORDER BY d.hook_delivery_id DESC LIMIT $4;

-- name: resend_delivery
-- A re-send goes again, in turn with its subject's later events, for another full window.
UPDATE hook_deliveries
SET status = 'pending', next_attempt_at = now(),
    deadline_at = now() + make_interval(secs => $3), delivered_at = NULL
WHERE hook_delivery_id = $1 AND endpoint_id = $2
RETURNING hook_delivery_id;

-- name: resend_failed
UPDATE hook_deliveries
SET status = 'pending', next_attempt_at = now(), deadline_at = now() + make_interval(secs => $2)
WHERE endpoint_id = $1 AND status = 'failed'
RETURNING hook_delivery_id;

-- name: unblock_endpoint
UPDATE hook_endpoints SET blocked_until = NULL WHERE endpoint_id = $1;
