-- Failed transactional mail sent again by an operator (`mailer deliveries retry --failed`).

-- name: list_failed_for_retry
-- Failed transactional deliveries matching the operator's filters, each with why it may
-- not be sent again (NULL: it may). Locked, so two operators cannot requeue one row twice.
-- A confirmation goes again only while its subscriber waits for that very link; other mail
-- only while they are subscribed; never to a bounced, complained or suppressed address
-- (an erasure's suppression stays until a new signup is confirmed, so it does not count).
-- Of one subscriber's failed mails of one kind, only the newest is sent again.
WITH locked AS (
    SELECT d.delivery_id, d.kind, d.subscriber_id, d.payload
    FROM deliveries d
    WHERE d.status = 'failed'
      AND d.mailing_id IS NULL
      AND NOT coalesce(d.payload ? 'preview_of', false)
      AND ($1::timestamptz IS NULL OR d.finished_at >= $1)
      AND ($2::text IS NULL OR d.kind = $2)
      AND ($3::text IS NULL OR strpos(lower(coalesce(d.last_reply, '')), lower($3)) > 0)
    FOR UPDATE
), failed AS (
    SELECT d.delivery_id, d.kind, d.subscriber_id, s.status,
           (d.payload ->> 'confirmation_id')::bigint AS confirmation_id,
           EXISTS (SELECT FROM suppressions x
                   WHERE x.email_hash = sha256(convert_to(s.email_key, 'UTF8'))
                     AND x.reason <> 'erased') AS suppressed,
           row_number() OVER (PARTITION BY d.subscriber_id, d.kind
                              ORDER BY d.delivery_id DESC) AS newest
    FROM locked d
    LEFT JOIN subscribers s ON s.subscriber_id = d.subscriber_id
)
SELECT f.delivery_id, f.kind, f.confirmation_id,
       CASE WHEN f.status IS NULL OR f.status = 'erased' THEN 'the subscriber was deleted'
            WHEN f.status = 'suppressed' OR f.suppressed THEN 'the address is suppressed'
            WHEN f.kind = 'confirm' AND f.status <> 'pending'
                THEN 'no longer waiting for confirmation'
            WHEN f.kind <> 'confirm' AND f.status <> 'active' THEN 'no longer subscribed'
            WHEN f.kind = 'confirm' AND NOT EXISTS (
                SELECT FROM confirmations c
                WHERE c.confirmation_id = f.confirmation_id AND c.used_at IS NULL
                  AND NOT EXISTS (SELECT FROM confirmations n
                                  WHERE n.subscriber_id = c.subscriber_id
                                    AND n.confirmation_id > c.confirmation_id))
                THEN 'a newer confirmation link was sent'
            WHEN f.newest > 1 THEN 'a newer one of the same mail is retried'
       END AS skip
FROM failed f
ORDER BY f.delivery_id;

-- name: requeue_deliveries
-- Back to the queue as new: attempts from zero, and queued now, as the retry deadline
-- (MAILER_RETRY_MAX_AGE_HOURS) counts from created_at: an old mail meeting a temporary
-- failure would otherwise fail again at once. When it was first queued and the reply it
-- failed with stay readable in last_reply.
UPDATE deliveries
SET status = 'queued', attempts = 0, next_attempt_at = now(), finished_at = NULL,
    claimed_until = NULL, claimed_by = NULL, created_at = now(),
    last_reply = left('requeued by an operator; first queued '
                      || to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"')
                      || '; had failed: ' || coalesce(last_reply, ''), 1000)
WHERE delivery_id = ANY($1::bigint[]) AND status = 'failed';

-- name: renew_confirmations
-- The link never reached its reader: it works for a full lifetime from now.
UPDATE confirmations
SET expires_at = greatest(expires_at, now() + make_interval(secs => $2))
WHERE confirmation_id = ANY($1::bigint[]) AND used_at IS NULL;
