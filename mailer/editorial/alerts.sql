-- Urgent alerts: one item to the alert-accepting subscribers of its topics, confirmed first.

-- name: lock_item
-- The item an alert or a correction is about; the lock serialises alerts and corrections
-- of one item (a second request waits, then sees the first one's rows).
SELECT i.item_id, i.title, i.link, i.summary_html, i.summary_text, i.image_url, i.image_alt,
       i.author, i.published_at, i.topic_ids, i.hidden,
       ARRAY(SELECT t.name FROM topics t WHERE t.topic_id = ANY(i.topic_ids)
             ORDER BY t.position, t.name) AS topic_names,
       -- its versions in other languages (linked by the CMS): an alert goes out in each
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                    'language', mailer_language(o.language), 'item_id', o.item_id,
                    'title', o.title, 'link', o.link, 'summary_html', o.summary_html,
                    'summary_text', o.summary_text, 'image_url', o.image_url,
                    'image_alt', o.image_alt, 'author', o.author,
                    'published_at', o.published_at) ORDER BY o.item_id)
                 FROM items o
                 WHERE o.item_id <> i.item_id AND NOT o.hidden AND o.language IS NOT NULL
                   AND (o.translation_of = i.item_id OR o.item_id = i.translation_of
                        OR o.translation_of = i.translation_of)), '[]') AS translations
FROM items i WHERE i.item_id = $1
FOR UPDATE OF i;

-- name: alert_audience
-- Who an alert of item $1 to topics $2 reaches: active, unpaused subscribers of a topic who
-- accept alerts and never received the item (by alert or digest: the ledger). Counted for
-- the editor's confirmation, then fanned out (mailer/notices.py wraps it).
SELECT s.subscriber_id, s.email FROM subscribers s
WHERE s.accepts_alerts AND s.status = 'active'
  AND (s.paused_until IS NULL OR s.paused_until <= now())
  AND s.subscriber_id IN (SELECT st.subscriber_id FROM subscriber_topics st
                          WHERE st.topic_id = ANY($2::bigint[]))
  AND s.subscriber_id NOT IN (
      SELECT d.subscriber_id FROM mailing_items mi
      JOIN deliveries d ON d.mailing_id = mi.mailing_id
      WHERE mi.item_id = $1 AND d.subscriber_id IS NOT NULL
        AND d.status IN ('queued', 'sending', 'deferred', 'sent') AND $1 = ANY(d.item_ids))
  AND s.subscriber_id NOT IN (SELECT si.subscriber_id FROM sent_items si WHERE si.item_id = $1)

-- name: create_notice_mailing
-- A draft alert or correction notice: its own stream (list id), priority and archive slug.
INSERT INTO mailings (kind, status, priority, subject, list_id, content, slug)
VALUES ($1, 'draft', $2, $3, $4, $5, $6)
RETURNING mailing_id;

-- name: create_alert
INSERT INTO alerts (mailing_id, item_id, origin, requested_by, recipients)
VALUES ($1, $2, $3, $4, $5);

-- name: add_mailing_item
INSERT INTO mailing_items (mailing_id, item_id, position) VALUES ($1, $2, 1)
ON CONFLICT DO NOTHING;

-- name: open_alert_for_item
-- An alert of this item that is not finished: a draft is reused, a sending one refuses.
SELECT a.mailing_id, m.status FROM alerts a JOIN mailings m USING (mailing_id)
WHERE a.item_id = $1 AND m.status IN ('draft', 'scheduled', 'sending', 'paused')
ORDER BY a.mailing_id DESC LIMIT 1;

-- name: lock_alert
SELECT a.mailing_id, a.item_id, a.origin, a.requested_by, a.recipients, m.status, m.slug
FROM alerts a JOIN mailings m USING (mailing_id)
WHERE a.mailing_id = $1
FOR UPDATE OF a, m;

-- name: set_alert_recipients
UPDATE alerts SET recipients = $2 WHERE mailing_id = $1;

-- name: update_notice_content
UPDATE mailings SET subject = $2, content = $3, updated_at = now() WHERE mailing_id = $1;

-- name: notice_content
SELECT content FROM mailings WHERE mailing_id = $1;

-- name: confirm_alert
UPDATE alerts SET confirmed_by = $2, confirmed_at = now() WHERE mailing_id = $1;

-- name: cms_alerts_last_hour
-- The CMS alert rate limit: how many in the last hour, and when the oldest of them leaves it.
SELECT count(*) AS made, min(created_at) + interval '1 hour' - now() AS frees_in
FROM alerts WHERE origin = 'cms' AND created_at > now() - interval '1 hour';

-- name: lock_cms_alert_limit
-- Serialises CMS pushes that create alerts, so racing pushes cannot exceed the limit.
SELECT pg_advisory_xact_lock(hashtext('mailer.cms_alerts'));

-- name: list_alerts
-- A finished alert's sends from its kept counts (list_alerts keeps them); NULL for the
-- others, counted by count_sent (a subquery here, even one never run, costs the plan into
-- JIT compilation: 0.1-0.3 s).
SELECT a.mailing_id AS alert_id, a.item_id, a.origin, a.requested_by, a.recipients,
       a.confirmed_by, a.confirmed_at, a.created_at, m.status, m.subject, m.slug,
       m.started_at, m.finished_at, c.sent
FROM alerts a JOIN mailings m USING (mailing_id)
LEFT JOIN mailing_counts c USING (mailing_id)
WHERE ($1::text IS NULL OR m.status = $1) AND ($2::bigint IS NULL OR a.mailing_id = $2)
ORDER BY a.mailing_id DESC
LIMIT 200;

-- name: count_sent
SELECT mailing_id, count(*) FILTER (WHERE status = 'sent') AS sent
FROM deliveries WHERE mailing_id = ANY($1::bigint[])
GROUP BY mailing_id;

-- name: alerted_already
-- An alert of the item that went out (or is going out): a CMS re-push does not repeat it.
SELECT a.mailing_id, m.status FROM alerts a JOIN mailings m USING (mailing_id)
WHERE a.item_id = $1 AND m.status IN ('sending', 'paused', 'sent')
ORDER BY a.mailing_id DESC LIMIT 1;
