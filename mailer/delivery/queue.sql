-- The per-recipient queue: enqueue, claim, mark, lease expiry.

-- name: enqueue_transactional
-- One transactional mail (confirmation, welcome, ...) for one recipient.
INSERT INTO deliveries (subscriber_id, kind, recipient, payload)
VALUES ($1, $2, $3, $4)
RETURNING delivery_id;

-- name: notify_deliveries
-- Wakes idle workers; sent at commit, deduplicated within a transaction.
SELECT pg_notify('mailer_deliveries', '');

-- name: claim_transactional
-- Transactional mail is claimed before any bulk mail, from its own index range
-- (mailing_id IS NULL). Recipients suppressed or erased since enqueue are settled here.
WITH due AS (
    SELECT d.delivery_id,
           s.status IN ('suppressed', 'erased') AS ineligible,
           s.name, s.key_version, s.plain_text_only, s.locale
    FROM deliveries d
    LEFT JOIN subscribers s ON s.subscriber_id = d.subscriber_id
    WHERE d.mailing_id IS NULL
      AND d.status IN ('queued', 'deferred')
      AND d.next_attempt_at <= now()
    ORDER BY d.next_attempt_at
    LIMIT $1
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE deliveries d
SET status = CASE WHEN due.ineligible THEN 'suppressed' ELSE 'sending' END,
    attempts = d.attempts + CASE WHEN due.ineligible THEN 0 ELSE 1 END,
    claimed_until = CASE WHEN due.ineligible THEN NULL ELSE now() + make_interval(secs => $2) END,
    claimed_by = CASE WHEN due.ineligible THEN NULL ELSE $3 END,
    finished_at = CASE WHEN due.ineligible THEN now() END,
    last_reply = CASE WHEN due.ineligible THEN 'not sent: the address is suppressed' ELSE d.last_reply END
FROM due
WHERE d.delivery_id = due.delivery_id
RETURNING d.delivery_id, d.mailing_id, d.subscriber_id, d.kind, d.recipient, d.payload,
          d.item_ids, d.topic_ids, d.status, d.attempts, d.created_at,
          due.name, due.key_version, due.plain_text_only, due.locale;

-- name: claim_bulk
-- Due rows of one sending mailing. The subscriber is checked again at claim time, so an
-- unsubscribe, pause or suppression after fan-out is honoured: such rows end 'suppressed'.
WITH due AS (
    SELECT d.delivery_id,
           s.status IS DISTINCT FROM 'active'
               OR coalesce(s.paused_until > now(), false) AS ineligible,
           s.name, s.key_version, s.plain_text_only, s.locale
    FROM deliveries d
    LEFT JOIN subscribers s ON s.subscriber_id = d.subscriber_id
    WHERE d.mailing_id = $4
      AND d.status IN ('queued', 'deferred')
      AND d.next_attempt_at <= now()
    ORDER BY d.next_attempt_at
    LIMIT $1
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE deliveries d
SET status = CASE WHEN due.ineligible THEN 'suppressed' ELSE 'sending' END,
    attempts = d.attempts + CASE WHEN due.ineligible THEN 0 ELSE 1 END,
    claimed_until = CASE WHEN due.ineligible THEN NULL ELSE now() + make_interval(secs => $2) END,
    claimed_by = CASE WHEN due.ineligible THEN NULL ELSE $3 END,
    finished_at = CASE WHEN due.ineligible THEN now() END,
    last_reply = CASE WHEN due.ineligible
                      THEN 'not sent: the subscriber is no longer active' ELSE d.last_reply END
FROM due
WHERE d.delivery_id = due.delivery_id
RETURNING d.delivery_id, d.mailing_id, d.subscriber_id, d.kind, d.recipient, d.payload,
          d.item_ids, d.topic_ids, d.status, d.attempts, d.created_at,
          due.name, due.key_version, due.plain_text_only, due.locale;

-- name: list_sending_mailings
-- Bulk mailings workers may claim from, most urgent stream first.
SELECT mailing_id FROM mailings WHERE status = 'sending' ORDER BY priority, mailing_id;

-- name: mark_sent
-- claimed_by stays: which worker sent it is worth knowing later.
UPDATE deliveries d
SET status = 'sent', sent_at = now(), finished_at = now(), message_id = o.message_id,
    claimed_until = NULL, last_reply = NULL
FROM unnest($1::bigint[], $2::text[]) AS o(delivery_id, message_id)
WHERE d.delivery_id = o.delivery_id;

-- name: mark_deferred
-- A temporary failure: back to the queue at the given time, unless it was settled meanwhile.
UPDATE deliveries d
SET status = 'deferred', next_attempt_at = o.next_attempt_at, last_reply = o.reply,
    claimed_until = NULL, claimed_by = NULL
FROM unnest($1::bigint[], $2::timestamptz[], $3::text[]) AS o(delivery_id, next_attempt_at, reply)
WHERE d.delivery_id = o.delivery_id AND d.status = 'sending';

-- name: mark_failed
UPDATE deliveries d
SET status = 'failed', finished_at = now(), last_reply = o.reply, claimed_until = NULL
FROM unnest($1::bigint[], $2::text[]) AS o(delivery_id, reply)
WHERE d.delivery_id = o.delivery_id AND d.status IN ('sending', 'deferred');

-- name: release_claims
-- Rows a stopping worker claimed but never tried go back untouched (the attempt is undone).
UPDATE deliveries
SET status = CASE WHEN attempts > 1 THEN 'deferred' ELSE 'queued' END,
    attempts = attempts - 1, claimed_until = NULL, claimed_by = NULL
WHERE delivery_id = ANY($1::bigint[]) AND status = 'sending' AND claimed_by = $2;

-- name: expire_leases
-- Rows whose worker died (its lease ran out) return to the queue at once.
UPDATE deliveries
SET status = 'deferred', next_attempt_at = now(), claimed_until = NULL, claimed_by = NULL,
    last_reply = 'requeued: the worker holding it stopped before reporting'
WHERE status = 'sending' AND claimed_until < now()
RETURNING delivery_id;
