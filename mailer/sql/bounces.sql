-- Bounces and suppressions.

-- name: insert_bounces
INSERT INTO bounces (delivery_id, subscriber_id, kind, source, detail)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[]);

-- name: suppress_subscribers
-- Only subscribers not already suppressed or erased change (and get an event).
UPDATE subscribers SET status = 'suppressed', updated_at = now()
WHERE subscriber_id = ANY($1::bigint[]) AND status NOT IN ('suppressed', 'erased')
RETURNING subscriber_id;

-- name: insert_suppressions
INSERT INTO suppressions (email_hash, reason, detail)
SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[])
ON CONFLICT (email_hash) DO NOTHING;
