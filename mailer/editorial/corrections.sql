-- Corrections and retractions of items already sent, their notices, and the item audit.

-- name: correction_audience
-- Exactly the people who received item $1 (a delivery sent, by alert or digest, carrying
-- it) before time $2, whatever their topics are now; only those still active and unpaused.
-- Delivery rows past retention are in the sent_items ledger.
SELECT s.subscriber_id, s.email FROM subscribers s
WHERE s.status = 'active' AND (s.paused_until IS NULL OR s.paused_until <= now())
  AND (s.subscriber_id IN (
      SELECT d.subscriber_id FROM mailing_items mi
      JOIN mailings m ON m.mailing_id = mi.mailing_id AND m.kind IN ('digest', 'alert')
      JOIN deliveries d ON d.mailing_id = mi.mailing_id
      WHERE mi.item_id = $1 AND d.status = 'sent' AND $1 = ANY(d.item_ids)
        AND d.sent_at < $2)
    OR s.subscriber_id IN (
      SELECT si.subscriber_id FROM sent_items si WHERE si.item_id = $1 AND si.sent_at < $2))

-- name: was_sent
SELECT EXISTS (
    SELECT 1 FROM mailing_items mi
    JOIN mailings m ON m.mailing_id = mi.mailing_id AND m.kind IN ('digest', 'alert')
    JOIN deliveries d ON d.mailing_id = mi.mailing_id
    WHERE mi.item_id = $1 AND d.status = 'sent' AND $1 = ANY(d.item_ids))
    OR EXISTS (SELECT 1 FROM sent_items si WHERE si.item_id = $1);

-- name: item_still_sending
-- A digest or alert carrying the item that has not finished: its copies are frozen with
-- the old text, so a correction waits until it is done (or cancelled).
SELECT m.mailing_id, m.kind, m.status FROM mailing_items mi JOIN mailings m USING (mailing_id)
WHERE mi.item_id = $1 AND m.kind IN ('digest', 'alert') AND m.status IN ('sending', 'paused')
ORDER BY m.mailing_id LIMIT 1;

-- name: open_notice_for_item
-- A correction notice of this item that is waiting for confirmation or still sending.
SELECT c.correction_id, m.mailing_id, m.status
FROM corrections c JOIN mailings m ON m.mailing_id = c.mailing_id
WHERE c.item_id = $1 AND m.status IN ('draft', 'scheduled', 'sending', 'paused')
ORDER BY c.correction_id LIMIT 1;

-- name: apply_correction
-- The editor's corrected title and summary (or a retraction, which hides the item); later
-- upstream updates no longer overwrite them.
UPDATE items
SET title = $2, summary_html = $3, summary_text = $4, hidden = hidden OR $5,
    edited_at = CASE WHEN $6 THEN now() ELSE edited_at END, updated_at = now()
WHERE item_id = $1;

-- name: create_correction
INSERT INTO corrections (item_id, kind, note, old_title, new_title, old_summary_html,
                         new_summary_html, old_summary_text, new_summary_text, origin,
                         requested_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING correction_id, created_at;

-- name: attach_notice
UPDATE corrections SET mailing_id = $2, recipients = $3 WHERE correction_id = $1;

-- name: lock_correction
SELECT c.correction_id, c.item_id, c.kind, c.note, c.created_at, c.mailing_id, c.recipients,
       c.old_title, c.new_title, c.old_summary_html, c.new_summary_html,
       c.old_summary_text, c.new_summary_text, m.status
FROM corrections c LEFT JOIN mailings m ON m.mailing_id = c.mailing_id
WHERE c.correction_id = $1
FOR UPDATE OF c;

-- name: set_correction_recipients
UPDATE corrections SET recipients = $2 WHERE correction_id = $1;

-- name: confirm_correction
UPDATE corrections SET confirmed_by = $2, confirmed_at = now() WHERE correction_id = $1;

-- name: list_corrections
SELECT c.correction_id, c.item_id, c.kind, c.note, c.origin, c.requested_by, c.created_at,
       c.old_title, c.new_title, c.old_summary_text, c.new_summary_text,
       c.mailing_id, c.recipients, c.confirmed_by, c.confirmed_at,
       m.status AS notice_status, m.started_at, m.finished_at,
       (SELECT count(*) FROM deliveries d
        WHERE d.mailing_id = c.mailing_id AND d.status = 'sent') AS sent
FROM corrections c LEFT JOIN mailings m ON m.mailing_id = c.mailing_id
WHERE ($1::bigint IS NULL OR c.item_id = $1)
  AND ($2::text IS NULL OR m.status = $2)
  AND ($3::bigint IS NULL OR c.correction_id = $3)
ORDER BY c.correction_id DESC
LIMIT 200;

-- name: audit_mailings
-- Every digest or alert that carried the item, with how many of its mails did and when.
SELECT m.mailing_id, m.kind, m.subject, m.status, m.slug, m.started_at, m.finished_at,
       count(d.delivery_id) FILTER (WHERE d.status = 'sent') AS sent,
       count(d.delivery_id) FILTER (WHERE d.status IN ('queued', 'sending', 'deferred'))
           AS pending,
       min(d.sent_at) AS first_sent_at, max(d.sent_at) AS last_sent_at
FROM mailing_items mi
JOIN mailings m ON m.mailing_id = mi.mailing_id AND m.kind IN ('digest', 'alert')
LEFT JOIN deliveries d ON d.mailing_id = m.mailing_id AND $1 = ANY(d.item_ids)
WHERE mi.item_id = $1
GROUP BY m.mailing_id
ORDER BY m.mailing_id;

-- name: audit_receivers
-- People who received the item (an erased person's deliveries count one each), and when.
SELECT count(DISTINCT coalesce(d.subscriber_id, -d.delivery_id)) AS people,
       count(*) AS deliveries, min(d.sent_at) AS first_sent_at, max(d.sent_at) AS last_sent_at
FROM mailing_items mi
JOIN mailings m ON m.mailing_id = mi.mailing_id AND m.kind IN ('digest', 'alert')
JOIN deliveries d ON d.mailing_id = mi.mailing_id
WHERE mi.item_id = $1 AND d.status = 'sent' AND $1 = ANY(d.item_ids);

-- name: audit_item
SELECT i.item_id, i.title, i.link, i.hidden, i.published_at, i.edited_at,
       ARRAY(SELECT t.slug FROM topics t WHERE t.topic_id = ANY(i.topic_ids)
             ORDER BY t.position, t.name) AS topics
FROM items i WHERE i.item_id = $1;

-- name: corrections_of_mailing
-- What the archive shows beside a sent digest or alert: corrections of its items made
-- after it went out.
SELECT c.correction_id, c.item_id, c.kind, c.note, c.created_at, c.old_title, c.new_title,
       c.old_summary_text, c.new_summary_text
FROM mailing_items mi
JOIN mailings m ON m.mailing_id = mi.mailing_id
JOIN corrections c ON c.item_id = mi.item_id AND c.created_at > m.started_at
WHERE mi.mailing_id = $1
ORDER BY c.created_at;

-- name: corrections_of_item
SELECT c.correction_id, c.kind, c.note, c.created_at, c.old_title, c.new_title,
       c.old_summary_text, c.new_summary_text
FROM corrections c WHERE c.item_id = $1 ORDER BY c.created_at;

-- name: archived_item
-- An item that went out in a digest or alert (only those have a public page).
SELECT i.item_id, i.title, i.link, i.summary_html, i.summary_text, i.hidden, i.published_at,
       i.image_url, i.image_alt, i.author, mailer_language(i.language) AS language,
       ARRAY(SELECT jsonb_build_object('slug', m.slug, 'subject', m.subject,
                                       'started_at', m.started_at)
             FROM mailing_items mi JOIN mailings m USING (mailing_id)
             WHERE mi.item_id = i.item_id AND m.kind IN ('digest', 'alert')
               AND m.status IN ('sending', 'sent') AND m.slug IS NOT NULL
             ORDER BY m.started_at) AS mailings
FROM items i WHERE i.item_id = $1;

-- name: pushed_versions
-- Items of the CMS push source as they are before a push changes them (by the CMS's id).
SELECT i.guid, i.item_id, i.title, i.summary_html, i.summary_text,
       (SELECT c.note FROM corrections c WHERE c.item_id = i.item_id
        ORDER BY c.correction_id DESC LIMIT 1) AS last_note
FROM items i
WHERE i.source_id = (SELECT source_id FROM feed_sources WHERE kind = 'push'
                     ORDER BY source_id LIMIT 1)
  AND i.guid = ANY($1::text[]);
