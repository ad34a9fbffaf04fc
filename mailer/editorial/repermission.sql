-- Re-permission campaigns: who is asked, who answered, who is removed at the close.

-- name: audience
-- Active readers who confirmed (or re-confirmed, or answered an earlier campaign) before
-- the cutoff $1 and not since. (Counted, and copied into a campaign, by the module.)
SELECT s.subscriber_id, s.email
FROM subscribers s
WHERE s.status = 'active'
  AND coalesce(s.confirmed_at, s.created_at) < $1
  AND NOT EXISTS (
      SELECT 1 FROM consent_events c
      WHERE c.subscriber_id = s.subscriber_id
        AND c.action IN ('confirm', 'resubscribe', 'repermission')
        AND c.occurred_at >= $1)

-- name: create_campaign
INSERT INTO repermission_campaigns (mailing_id, older_than_months, answer_days, cutoff,
                                    recipients, requested_by)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING campaign_id, created_at;

-- name: open_campaign
SELECT campaign_id, status FROM repermission_campaigns
WHERE status IN ('draft', 'scheduled', 'open');

-- name: lock_campaign
SELECT * FROM repermission_campaigns WHERE campaign_id = $1 FOR UPDATE;

-- name: get_campaign
-- A campaign with its counts: asked, mailed (sent), answered yes, still waiting (active,
-- no answer, not re-confirmed since it was sent), unsubscribed meanwhile by themselves.
SELECT c.*, m.status AS mailing_status,
       (SELECT count(*) FROM repermission_recipients r WHERE r.campaign_id = c.campaign_id)
           AS asked,
       (SELECT count(*) FROM deliveries d
        WHERE d.mailing_id = c.mailing_id AND d.status = 'sent') AS sent,
       (SELECT count(*) FROM deliveries d
        WHERE d.mailing_id = c.mailing_id AND d.status IN ('queued', 'deferred', 'sending'))
           AS in_flight,
       (SELECT count(*) FROM repermission_recipients r
        WHERE r.campaign_id = c.campaign_id AND r.answered_at IS NOT NULL) AS answered,
       (SELECT count(*) FROM repermission_recipients r JOIN subscribers s USING (subscriber_id)
        WHERE r.campaign_id = c.campaign_id AND r.answered_at IS NULL
          AND s.status <> 'active') AS left_meanwhile
FROM repermission_campaigns c JOIN mailings m USING (mailing_id)
WHERE c.campaign_id = $1;

-- name: list_campaigns
SELECT c.campaign_id, c.status, c.older_than_months, c.answer_days, c.recipients, c.sent_at,
       c.answer_by, c.removed, c.created_at
FROM repermission_campaigns c
ORDER BY c.campaign_id DESC
LIMIT 50;

-- name: campaign_of_mailing
SELECT campaign_id, status, answer_by FROM repermission_campaigns WHERE mailing_id = $1;

-- name: fan_out
-- One delivery per person asked; $1 the campaign, $2 the mailing.
INSERT INTO deliveries (mailing_id, subscriber_id, kind, recipient)
SELECT $2, s.subscriber_id, 'repermission', s.email
FROM repermission_recipients r JOIN subscribers s USING (subscriber_id)
WHERE r.campaign_id = $1 AND s.status = 'active'
ON CONFLICT (mailing_id, subscriber_id) DO NOTHING;

-- name: mark_scheduled
UPDATE repermission_campaigns SET status = 'scheduled', send_at = $2 WHERE campaign_id = $1;

-- name: next_due
-- A scheduled campaign whose time has come; of several instances ticking, one takes it.
SELECT campaign_id FROM repermission_campaigns
WHERE status = 'scheduled' AND send_at <= $1
ORDER BY send_at
LIMIT 1
FOR UPDATE SKIP LOCKED;

-- name: back_to_draft
-- The audience moved too far from the count confirmed when it was scheduled: an editor
-- confirms the new count before it goes.
UPDATE repermission_campaigns SET status = 'draft', send_at = NULL, recipients = $2
WHERE campaign_id = $1;

-- name: mark_open
UPDATE repermission_campaigns
SET status = 'open', sent_at = now(), answer_by = now() + make_interval(days => answer_days),
    recipients = $2
WHERE campaign_id = $1;

-- name: set_recipients
UPDATE repermission_campaigns SET recipients = $2 WHERE campaign_id = $1;

-- name: mark_answered
-- The first yes counts; a second click changes nothing. Returns the row only the first time.
UPDATE repermission_recipients SET answered_at = now()
WHERE campaign_id = $1 AND subscriber_id = $2 AND answered_at IS NULL
RETURNING answered_at;

-- name: recipient
SELECT r.answered_at, s.status, s.email
FROM repermission_recipients r JOIN subscribers s USING (subscriber_id)
WHERE r.campaign_id = $1 AND r.subscriber_id = $2;

-- name: unanswered
-- Who the close unsubscribes: asked, still active, no yes, and no other re-confirmation
-- (a new confirmation, a resubscribe) since the mail went out. Locked for the close.
SELECT s.subscriber_id, s.email
FROM repermission_recipients r JOIN subscribers s USING (subscriber_id)
WHERE r.campaign_id = $1 AND r.answered_at IS NULL AND s.status = 'active'
  AND NOT EXISTS (
      SELECT 1 FROM consent_events c
      WHERE c.subscriber_id = s.subscriber_id
        AND c.action IN ('confirm', 'resubscribe', 'repermission')
        AND c.occurred_at >= $2)
ORDER BY s.subscriber_id
FOR UPDATE OF s;

-- name: unsubscribe_many
UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = now(), updated_at = now()
WHERE subscriber_id = ANY($1::bigint[]) AND status = 'active';

-- name: cancel_queued_for_many
UPDATE deliveries SET status = 'cancelled', finished_at = now(),
       last_reply = 'not sent: the subscriber unsubscribed'
WHERE subscriber_id = ANY($1::bigint[]) AND status IN ('queued', 'deferred')
  AND mailing_id IS NOT NULL;

-- name: close_campaign
UPDATE repermission_campaigns
SET status = $2, removed = $3, closed_by = $4, closed_at = now()
WHERE campaign_id = $1;
