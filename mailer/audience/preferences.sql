-- A subscriber managing themselves from the links in their mail.

-- name: get_subscriber
SELECT subscriber_id, email, name, status, locale, plain_text_only, paused_until, key_version,
       source, created_at, updated_at, confirmed_at, unsubscribed_at, accepts_alerts,
       both_languages
FROM subscribers WHERE subscriber_id = $1;

-- name: get_subscriber_for_update
SELECT subscriber_id, email, name, status, plain_text_only, paused_until, key_version
FROM subscribers WHERE subscriber_id = $1 FOR UPDATE;

-- name: subscriber_topics
SELECT t.topic_id, t.slug, t.name, t.public
FROM subscriber_topics st JOIN topics t USING (topic_id)
WHERE st.subscriber_id = $1 ORDER BY t.position, t.name;

-- name: clear_public_topics
-- Only public topics are the subscriber's to choose; hidden ones given by the website stay.
DELETE FROM subscriber_topics st USING topics t
WHERE st.subscriber_id = $1 AND t.topic_id = st.topic_id AND t.public;

-- name: update_profile
UPDATE subscribers
SET name = $2, plain_text_only = $3, paused_until = $4, updated_at = now()
WHERE subscriber_id = $1;

-- name: mark_unsubscribed
UPDATE subscribers
SET status = 'unsubscribed', unsubscribed_at = now(), updated_at = now()
WHERE subscriber_id = $1 AND status IN ('active', 'pending');

-- name: cancel_queued_for
-- Nothing more reaches them, not even mail already queued for a digest that is sending.
UPDATE deliveries SET status = 'cancelled', finished_at = now(),
       last_reply = 'not sent: the subscriber unsubscribed'
WHERE subscriber_id = $1 AND status IN ('queued', 'deferred') AND mailing_id IS NOT NULL;

-- name: subscriber_deliveries
SELECT d.delivery_id, d.kind, d.status, d.created_at, d.sent_at, m.subject
FROM deliveries d LEFT JOIN mailings m USING (mailing_id)
WHERE d.subscriber_id = $1 ORDER BY d.delivery_id;

-- name: find_by_address
SELECT subscriber_id FROM subscribers WHERE email_key = $1;

-- name: forget_delivery_addresses
UPDATE deliveries SET recipient = '', payload = NULL, subscriber_id = NULL,
       status = CASE WHEN status IN ('queued', 'deferred') THEN 'cancelled' ELSE status END
WHERE subscriber_id = $1;

-- name: forget_consent_details
UPDATE consent_events SET ip = NULL, user_agent = NULL WHERE subscriber_id = $1;

-- name: delete_subscriber
DELETE FROM subscribers WHERE subscriber_id = $1;

-- name: suppress_erased
INSERT INTO suppressions (email_hash, reason, detail) VALUES ($1, 'erased', $2)
ON CONFLICT (email_hash) DO UPDATE SET reason = 'erased', detail = $2;

-- name: subscriber_series
SELECT series_id FROM subscriber_series WHERE subscriber_id = $1;

-- name: active_series
SELECT series_id, name, description FROM series WHERE active ORDER BY series_id;

-- name: clear_series
DELETE FROM subscriber_series WHERE subscriber_id = $1;

-- name: add_series
INSERT INTO subscriber_series (subscriber_id, series_id)
SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING;

-- name: subscribe_to_default_series_if_none
-- Someone subscribing again keeps the digests they had chosen; only who had none gets the
-- default ones (as at confirmation).
INSERT INTO subscriber_series (subscriber_id, series_id)
SELECT $1, series_id FROM series
WHERE is_default AND active
  AND NOT EXISTS (SELECT FROM subscriber_series WHERE subscriber_id = $1)
ON CONFLICT DO NOTHING;

-- name: add_public_topics_if_none
-- A subscriber left with no topic at all gets every public one, as a signup without topics.
INSERT INTO subscriber_topics (subscriber_id, topic_id)
SELECT $1, topic_id FROM topics
WHERE public AND NOT EXISTS (SELECT FROM subscriber_topics WHERE subscriber_id = $1)
ON CONFLICT DO NOTHING;

-- name: set_locale
-- The language chosen on the preference page: their mails and pages come in it.
UPDATE subscribers SET locale = $2 WHERE subscriber_id = $1;

-- name: set_both_languages
-- true: their digests carry items in every language; false: their language's (and untagged).
UPDATE subscribers SET both_languages = $2 WHERE subscriber_id = $1;

-- name: welcome_summary
-- What a new subscriber chose, and when the first of their digests is due.
SELECT (SELECT coalesce(array_agg(t.name ORDER BY t.name), '{}')
        FROM subscriber_topics st JOIN topics t USING (topic_id)
        WHERE st.subscriber_id = $1) AS topic_names,
       (SELECT min(se.next_run_at) FROM subscriber_series ss JOIN series se USING (series_id)
        WHERE ss.subscriber_id = $1 AND se.active AND se.next_run_at > now()) AS next_digest_at;
