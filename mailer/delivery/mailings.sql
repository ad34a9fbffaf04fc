-- Bulk mailings: fan-out, lifecycle guards, progress.

-- name: create_mailing
INSERT INTO mailings (kind, subject, list_id, content, priority)
VALUES ($1, $2, $3, $4, $5)
RETURNING mailing_id;

-- name: get_mailing
SELECT mailing_id, kind, status, priority, subject, list_id, content,
       created_at, updated_at, started_at, finished_at
FROM mailings WHERE mailing_id = $1;

-- name: begin_sending
-- Guarded: of several instances racing to start the same mailing, one wins.
UPDATE mailings SET status = 'sending', started_at = now(), updated_at = now()
WHERE mailing_id = $1 AND status IN ('draft', 'scheduled')
RETURNING kind;

-- name: lock_fan_out
-- Fan-outs that read the digest ledger (digests, alerts: "never an item twice") run one at a
-- time, each in a snapshot taken after the previous one committed. Without it, an alert and
-- a digest starting at the same instant could both carry an item to one person.
SELECT pg_advisory_xact_lock(hashtext('mailer.fan_out'));

-- name: pause_mailing
UPDATE mailings SET status = 'paused', updated_at = now()
WHERE mailing_id = $1 AND status = 'sending'
RETURNING kind;

-- name: resume_mailing
UPDATE mailings SET status = 'sending', updated_at = now()
WHERE mailing_id = $1 AND status = 'paused'
RETURNING kind;

-- name: cancel_mailing
UPDATE mailings SET status = 'cancelled', finished_at = now(), updated_at = now()
WHERE mailing_id = $1 AND status IN ('draft', 'scheduled', 'sending', 'paused')
RETURNING mailing_id;

-- name: cancel_pending_deliveries
-- Rows already handed to SMTP finish; everything still waiting is cancelled.
UPDATE deliveries SET status = 'cancelled', finished_at = now()
WHERE mailing_id = $1 AND status IN ('queued', 'deferred');

-- name: finish_mailings
-- A sending mailing with nothing queued, deferred or in flight is sent; one event each.
WITH done AS (
    UPDATE mailings m SET status = 'sent', finished_at = now(), updated_at = now()
    WHERE m.status = 'sending'
      AND NOT EXISTS (SELECT 1 FROM deliveries d
                      WHERE d.mailing_id = m.mailing_id AND d.status IN ('queued', 'deferred'))
      AND NOT EXISTS (SELECT 1 FROM deliveries d
                      WHERE d.mailing_id = m.mailing_id AND d.status = 'sending')
    RETURNING m.mailing_id, m.kind
)
INSERT INTO events (type, subject, subject_id, payload)
SELECT kind || '.sent', kind, mailing_id, jsonb_build_object('mailing_id', mailing_id)
FROM done
RETURNING subject_id;

-- name: mailing_progress
-- Counts per status and the sends of the last minute (for rate and ETA), in one scan.
SELECT status, count(*) AS total,
       count(*) FILTER (WHERE sent_at > now() - interval '60 seconds') AS last_minute
FROM deliveries WHERE mailing_id = $1
GROUP BY status;

-- name: get_mailing_state
SELECT kind, status FROM mailings WHERE mailing_id = $1;

-- name: restore_cancelled_draft
-- Undo a cancel that came before any mail was fanned out: the mailing is a draft again.
UPDATE mailings SET status = 'draft', scheduled_at = NULL, finished_at = NULL, updated_at = now()
WHERE mailing_id = $1 AND status = 'cancelled' AND started_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.mailing_id = $1)
RETURNING mailing_id;
