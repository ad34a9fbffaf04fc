-- Editing mail templates: what a preview and the checks render with.

-- name: latest_content
-- The newest mailing of a kind that has content: a realistic context to check and preview a
-- template with (a digest, an alert, a correction notice).
SELECT content FROM mailings
WHERE kind = $1 AND content IS NOT NULL AND content <> '{}'::jsonb
ORDER BY mailing_id DESC LIMIT 1;

-- name: preview_subscriber
-- Whom a preview is written for: by id or address, with their language and topics.
SELECT s.subscriber_id, s.email, s.name, s.locale,
       ARRAY(SELECT st.topic_id FROM subscriber_topics st
             WHERE st.subscriber_id = s.subscriber_id ORDER BY st.topic_id) AS topic_ids,
       ARRAY(SELECT t.name FROM subscriber_topics st JOIN topics t USING (topic_id)
             WHERE st.subscriber_id = s.subscriber_id ORDER BY t.position, t.name) AS topic_names
FROM subscribers s
WHERE s.subscriber_id = $1 OR s.email_key = $2
LIMIT 1;

-- name: items_in_topics
-- Of these items, those of any of these topics (what a reader of the topics is sent).
SELECT coalesce(array_agg(item_id), '{}') FROM items
WHERE item_id = ANY($1::bigint[]) AND topic_ids && $2::bigint[];
