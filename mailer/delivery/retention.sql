-- Retention: old delivery rows and events purged in batches (mailer/delivery/retention.py).

-- name: purge_deliveries
-- Up to $2 finished delivery rows created before $1 (of finished or cancelled mailings, or
-- transactional mail). Who was sent which item by a digest or an alert moves to the
-- sent_items ledger in the same statement. The walk starts at the oldest id and stops at the
-- first row created since $1 (ids grow with time), so a run with nothing to purge reads little.
WITH bound AS (
    SELECT coalesce(
        (SELECT delivery_id FROM deliveries WHERE created_at >= $1 ORDER BY delivery_id LIMIT 1),
        (SELECT max(delivery_id) + 1 FROM deliveries),
        0) AS below
), doomed AS (
    SELECT d.delivery_id, d.mailing_id, d.subscriber_id, d.item_ids, d.status, d.sent_at
    FROM deliveries d, bound
    WHERE d.delivery_id < bound.below
      AND d.status IN ('sent', 'failed', 'suppressed', 'cancelled')
      AND (d.mailing_id IS NULL
           OR EXISTS (SELECT 1 FROM mailings m
                      WHERE m.mailing_id = d.mailing_id AND m.status IN ('sent', 'cancelled')))
    ORDER BY d.delivery_id
    LIMIT $2
    FOR UPDATE OF d SKIP LOCKED
), kept AS (
    INSERT INTO sent_items (item_id, subscriber_id, sent_at)
    SELECT carried.item_id, d.subscriber_id, min(coalesce(d.sent_at, now()))
    FROM doomed d
    JOIN mailings m ON m.mailing_id = d.mailing_id AND m.kind IN ('digest', 'alert')
    CROSS JOIN LATERAL unnest(d.item_ids) AS carried (item_id)
    WHERE d.status = 'sent' AND d.subscriber_id IS NOT NULL
      AND EXISTS (SELECT 1 FROM items i WHERE i.item_id = carried.item_id)
    GROUP BY carried.item_id, d.subscriber_id
    ON CONFLICT (item_id, subscriber_id)
        DO UPDATE SET sent_at = least(sent_items.sent_at, excluded.sent_at)
), gone AS (
    DELETE FROM deliveries d USING doomed WHERE d.delivery_id = doomed.delivery_id
    RETURNING 1
)
SELECT count(*) FROM gone;

-- name: purge_events
-- Up to $2 events created before $1, except those an outbound webhook has still to deliver
-- and those about a mailing that is not finished (the bounce watch reads its resume).
WITH bound AS (
    SELECT coalesce(
        (SELECT event_id FROM events WHERE created_at >= $1 ORDER BY event_id LIMIT 1),
        (SELECT max(event_id) + 1 FROM events),
        0) AS below
), doomed AS (
    SELECT e.event_id FROM events e, bound
    WHERE e.event_id < bound.below
      AND NOT EXISTS (SELECT 1 FROM hook_deliveries h
                      WHERE h.event_id = e.event_id AND h.status = 'pending')
      AND NOT EXISTS (SELECT 1 FROM mailings m
                      WHERE m.mailing_id = e.subject_id AND m.kind = e.subject
                        AND m.status NOT IN ('sent', 'cancelled'))
    ORDER BY e.event_id
    LIMIT $2
), gone AS (
    DELETE FROM events e USING doomed WHERE e.event_id = doomed.event_id RETURNING 1
)
SELECT count(*) FROM gone;
