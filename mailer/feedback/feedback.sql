-- Bounce and complaint intake, the suppression policy, and deliverability rates.

-- name: get_delivery
SELECT delivery_id, mailing_id, subscriber_id, recipient, kind, status
FROM deliveries WHERE delivery_id = $1;

-- name: find_subscriber
SELECT subscriber_id, email FROM subscribers WHERE email_key = $1;

-- name: get_subscriber_email
SELECT subscriber_id, email, key_version FROM subscribers WHERE subscriber_id = $1;

-- name: latest_delivery_to
-- Attribution of a provider's bounce that names only the address: their latest mail.
SELECT delivery_id FROM deliveries
WHERE subscriber_id = $1 AND status IN ('sent', 'failed') AND sent_at > now() - interval '30 days'
ORDER BY delivery_id DESC LIMIT 1;

-- name: insert_report
INSERT INTO bounce_reports (source, kind, status, envelope_from, envelope_to, peer,
                            delivery_id, subscriber_id, problem, summary, raw)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING report_id;

-- name: list_reports
SELECT report_id, received_at, source, kind, status, envelope_from, envelope_to, peer,
       delivery_id, subscriber_id, problem, summary, octet_length(raw) AS size
FROM bounce_reports
WHERE ($1::text IS NULL OR status = $1) AND ($2::bigint IS NULL OR report_id < $2)
ORDER BY report_id DESC LIMIT $3;

-- name: get_report
SELECT report_id, received_at, source, kind, status, envelope_from, envelope_to, peer,
       delivery_id, subscriber_id, problem, summary, raw
FROM bounce_reports WHERE report_id = $1;

-- name: purge_reports
DELETE FROM bounce_reports WHERE received_at < now() - make_interval(days => $1);

-- name: take_receipt
-- A provider delivery seen before returns nothing: a replay, or a retry of one we took.
INSERT INTO webhook_receipts (source, receipt_key) VALUES ($1, $2)
ON CONFLICT DO NOTHING RETURNING received_at;

-- name: purge_receipts
DELETE FROM webhook_receipts WHERE received_at < now() - interval '3 days';

-- name: soft_bounce_counts
-- Subscribers whose soft bounces (of distinct mails) within the window, since any lift of
-- their suppression, reached the limit.
SELECT s.subscriber_id, s.email,
       count(DISTINCT coalesce(b.delivery_id, -b.bounce_id)) AS bounces
FROM bounces b JOIN subscribers s USING (subscriber_id)
WHERE b.subscriber_id = ANY($1::bigint[]) AND b.kind = 'soft'
  AND b.created_at > now() - make_interval(days => $2)
  AND b.created_at > coalesce(s.suppression_lifted_at, '-infinity')
  AND s.status NOT IN ('suppressed', 'erased')
GROUP BY s.subscriber_id, s.email
HAVING count(DISTINCT coalesce(b.delivery_id, -b.bounce_id)) >= $3;

-- name: lock_subscribers
SELECT subscriber_id, email, status FROM subscribers
WHERE subscriber_id = ANY($1::bigint[]) ORDER BY subscriber_id FOR UPDATE;

-- name: mark_complained
UPDATE subscribers SET unsubscribed_at = now(), updated_at = now()
WHERE subscriber_id = ANY($1::bigint[]);

-- name: cancel_bulk_for
UPDATE deliveries SET status = 'cancelled', finished_at = now(),
       last_reply = 'not sent: the subscriber complained'
WHERE subscriber_id = ANY($1::bigint[]) AND status IN ('queued', 'deferred')
  AND mailing_id IS NOT NULL;

-- name: complaint_overrides
-- A complaint outranks an earlier bounce or manual entry (lifting it must not re-subscribe).
UPDATE suppressions SET reason = 'complaint', detail = $2
WHERE email_hash = ANY($1::bytea[]) AND reason IN ('hard_bounce', 'soft_bounce', 'manual');

-- name: list_suppressions
SELECT x.email_hash, x.reason, x.detail, x.created_at, x.subscriber_id, s.email, s.status
FROM suppressions x LEFT JOIN subscribers s ON s.subscriber_id = x.subscriber_id
WHERE ($1::text IS NULL OR x.reason = $1)
  AND ($2::timestamptz IS NULL OR (x.created_at, x.email_hash) < ($2, $3::bytea))
ORDER BY x.created_at DESC, x.email_hash DESC LIMIT $4;

-- name: get_suppression
SELECT email_hash, reason, detail, created_at, subscriber_id FROM suppressions
WHERE email_hash = $1 FOR UPDATE;

-- name: delete_suppression
DELETE FROM suppressions WHERE email_hash = $1;

-- name: add_suppression
INSERT INTO suppressions (email_hash, reason, detail, subscriber_id) VALUES ($1, 'manual', $2, $3)
ON CONFLICT (email_hash) DO NOTHING RETURNING email_hash;

-- name: restore_subscriber
-- After a lift: a complaint leaves them unsubscribed; otherwise back to what they were.
UPDATE subscribers
SET status = CASE WHEN $2 = 'complaint' THEN 'unsubscribed'
                  ELSE coalesce(suppressed_from, 'unsubscribed') END,
    suppressed_from = NULL, suppression_lifted_at = now(), updated_at = now()
WHERE subscriber_id = $1 AND status = 'suppressed'
RETURNING status;

-- name: mailing_rates
-- Per mailing: mails handed to SMTP, sent, and distinct mails bounced or complained about.
-- A finished mailing's sends come from its kept counts (mailing_counts: counted once); only
-- the others' deliveries are counted here (30 days of digests are 1,000,000 rows: 0.4 s).
SELECT m.mailing_id, m.kind, m.subject, m.status, m.started_at,
       coalesce(c.sent, d.sent) AS sent, coalesce(c.sent + c.failed, d.attempted) AS attempted,
       b.hard, b.soft, b.block, b.bounced, b.complaints
FROM mailings m
LEFT JOIN mailing_counts c USING (mailing_id)
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE status = 'sent') AS sent,
           count(*) FILTER (WHERE status IN ('sent', 'failed')) AS attempted
    FROM deliveries WHERE mailing_id = m.mailing_id AND c.mailing_id IS NULL
) d
CROSS JOIN LATERAL (
    SELECT count(DISTINCT delivery_id) FILTER (WHERE kind = 'hard') AS hard,
           count(DISTINCT delivery_id) FILTER (WHERE kind = 'soft') AS soft,
           count(DISTINCT delivery_id) FILTER (WHERE kind = 'block') AS block,
           count(DISTINCT delivery_id) FILTER (WHERE kind <> 'complaint') AS bounced,
           count(DISTINCT delivery_id) FILTER (WHERE kind = 'complaint') AS complaints
    FROM bounces WHERE mailing_id = m.mailing_id
) b
WHERE ($1::bigint[] IS NULL OR m.mailing_id = ANY($1))
  AND ($2::int IS NULL OR m.started_at > now() - make_interval(days => $2))
  AND m.started_at IS NOT NULL
ORDER BY m.mailing_id DESC;

-- name: watched_mailings
-- Sending mailings with any bounce or complaint, which no editor resumed after a pause
-- (an editor who resumes has overruled the automatic pause), with their bounce count.
SELECT m.mailing_id, count(b.*) AS reports
FROM mailings m JOIN bounces b ON b.mailing_id = m.mailing_id
WHERE m.status = 'sending'
  AND NOT EXISTS (SELECT 1 FROM events e
                  WHERE e.subject = m.kind AND e.subject_id = m.mailing_id
                    AND e.type = m.kind || '.resumed')
GROUP BY m.mailing_id;

-- name: suppression_counts
SELECT reason, count(*) AS total FROM suppressions GROUP BY reason ORDER BY reason;

-- name: list_bounces
SELECT bounce_id, delivery_id, subscriber_id, mailing_id, kind, source, detail, created_at
FROM bounces
WHERE ($1::bigint IS NULL OR subscriber_id = $1) AND ($2::bigint IS NULL OR mailing_id = $2)
  AND ($3::text IS NULL OR kind = $3) AND ($4::bigint IS NULL OR bounce_id < $4)
ORDER BY bounce_id DESC LIMIT $5;
