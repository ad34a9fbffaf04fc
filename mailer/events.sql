-- The transactional outbox.

-- name: insert_event
INSERT INTO events (type, subject, subject_id, payload) VALUES ($1, $2, $3, $4);

-- name: insert_events
INSERT INTO events (type, subject, subject_id, payload)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::jsonb[]);
