-- Bounces and suppressions.

-- name: insert_bounces
-- Each bounce carries its delivery's mailing, so per-mailing rates need no join.
INSERT INTO bounces (delivery_id, subscriber_id, kind, source, detail, mailing_id)
SELECT b.delivery_id, b.subscriber_id, b.kind, b.source, b.detail, d.mailing_id
FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[])
     AS b (delivery_id, subscriber_id, kind, source, detail)
LEFT JOIN deliveries d ON d.delivery_id = b.delivery_id;

-- name: suppress_subscribers
-- Only subscribers not already suppressed or erased change (and get an event); the
-- status they had is kept for a lift.
UPDATE subscribers SET status = 'suppressed', suppressed_from = status, updated_at = now()
WHERE subscriber_id = ANY($1::bigint[]) AND status NOT IN ('suppressed', 'erased')
RETURNING subscriber_id;

-- name: insert_suppressions
INSERT INTO suppressions (email_hash, reason, detail, subscriber_id)
SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::bigint[])
ON CONFLICT (email_hash) DO NOTHING;
