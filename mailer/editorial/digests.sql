-- Digests: assembly, editing, the personalised fan-out, the archive.

-- name: create_digest
-- $6: the subject per reader language (mailings.texts), dated the language's way
INSERT INTO mailings (kind, subject, list_id, series_id, occurrence_at, slug, status, texts)
VALUES ('digest', $1, $2, $3, $4, $5, 'draft', $6::jsonb)
ON CONFLICT (series_id, occurrence_at) WHERE occurrence_at IS NOT NULL DO NOTHING
RETURNING mailing_id;

-- name: last_sent_start
SELECT max(started_at) FROM mailings WHERE series_id = $1 AND status = 'sent';

-- name: assemble_items
-- New items since the series' last sent digest ($3), not hidden, never sent in this series,
-- with at least one topic; newest first. New includes an item that reached us after $3 but
-- is dated up to $5 before it (a feed that lags, a story published as the digest went out);
-- an older archive of a feed added since is not news.
INSERT INTO mailing_items (mailing_id, item_id, position)
SELECT $1, i.item_id, row_number() OVER (ORDER BY i.published_at DESC, i.item_id DESC)
FROM items i
WHERE NOT i.hidden
  AND (i.published_at > $3 OR (i.first_seen_at > $3 AND i.published_at > $3 - $5::interval))
  AND cardinality(i.topic_ids) > 0
  AND NOT EXISTS (
      SELECT 1 FROM mailing_items mi JOIN mailings m USING (mailing_id)
      WHERE mi.item_id = i.item_id AND m.series_id = $2 AND m.status IN ('sending', 'sent'))
ORDER BY i.published_at DESC
LIMIT $4
ON CONFLICT DO NOTHING;

-- name: assemble_translations
-- An item's translations (and the original of a translation) travel with it: each reader
-- gets the version in their language (digest_audience picks).
INSERT INTO mailing_items (mailing_id, item_id, position)
SELECT $1, other.item_id, mi.position
FROM mailing_items mi
JOIN items i ON i.item_id = mi.item_id
JOIN items other ON other.translation_of = i.item_id OR other.item_id = i.translation_of
                    OR (other.translation_of = i.translation_of AND other.item_id <> i.item_id)
WHERE mi.mailing_id = $1 AND NOT other.hidden
ON CONFLICT DO NOTHING;

-- name: digest_items
-- The digest's items in the editor's order, each with its topics (ids and names, in topic
-- order); an item hidden since it was added (pulled by the CMS, retracted) is left out, here
-- and in the fan-out. refresh_content arranges them as the digest's item_grouping says.
SELECT i.item_id, i.title, i.link, i.summary_html, i.summary_text, i.image_url, i.image_alt,
       i.author, i.published_at, mi.position,
       coalesce(topics.ids, '{}') AS topic_order, coalesce(topics.names, '{}') AS topic_names
FROM mailing_items mi JOIN items i USING (item_id)
CROSS JOIN LATERAL (
    SELECT array_agg(t.topic_id ORDER BY t.position, t.name) AS ids,
           array_agg(t.name ORDER BY t.position, t.name) AS names
    FROM topics t WHERE t.topic_id = ANY(i.topic_ids)
) topics
WHERE mi.mailing_id = $1 AND NOT i.hidden
ORDER BY mi.position;

-- name: clear_digest_items
DELETE FROM mailing_items WHERE mailing_id = $1;

-- name: set_digest_items
INSERT INTO mailing_items (mailing_id, item_id, position)
SELECT $1, item_id, ordinality FROM unnest($2::bigint[]) WITH ORDINALITY AS x(item_id, ordinality);

-- name: existing_items
SELECT item_id FROM items WHERE item_id = ANY($1::bigint[]);

-- name: get_digest
SELECT m.*, s.name AS series_name, s.slug AS series_slug
FROM mailings m LEFT JOIN series s USING (series_id)
WHERE m.mailing_id = $1 AND m.kind = 'digest';

-- name: lock_digest
SELECT mailing_id, status FROM mailings WHERE mailing_id = $1 AND kind = 'digest' FOR UPDATE;

-- name: list_digests
SELECT m.mailing_id, m.status, m.subject, m.series_id, m.scheduled_at, m.started_at,
       m.finished_at, m.created_at, m.slug,
       (SELECT count(*) FROM mailing_items mi WHERE mi.mailing_id = m.mailing_id) AS items
FROM mailings m
WHERE m.kind = 'digest' AND ($1::text IS NULL OR m.status = $1)
ORDER BY m.mailing_id DESC
LIMIT 200;

-- name: update_digest_text
UPDATE mailings SET subject = coalesce($2, subject), intro_md = coalesce($3, intro_md),
       texts = coalesce($4::jsonb, texts), item_grouping = coalesce($5, item_grouping),
       updated_at = now()
WHERE mailing_id = $1;

-- name: store_content
UPDATE mailings SET content = $2, updated_at = now() WHERE mailing_id = $1;

-- name: schedule_digest
UPDATE mailings SET status = 'scheduled', scheduled_at = $2, updated_at = now()
WHERE mailing_id = $1 AND status IN ('draft', 'scheduled')
RETURNING mailing_id;

-- name: due_digests
SELECT mailing_id FROM mailings
WHERE status = 'scheduled' AND scheduled_at <= $1 ORDER BY scheduled_at;

-- name: digest_audience
-- Who digest $1 of series $2 goes to, and what each gets: every active, unpaused subscriber
-- of the series, with exactly the digest's items of their topics that they never received
-- (in any series, alert or digest); a subscriber left with no item is not in it, so gets no
-- mail. The fan-out inserts it and "Send now" counts it (mailer/digests.py wraps it), so
-- the count an editor is shown is the fan-out's. Their topics go with it: an item of
-- several topics stands under the heading of the first one they chose.
SELECT s.subscriber_id, s.email, picked.item_ids, chosen.topic_ids
FROM subscriber_series ss
JOIN subscribers s ON s.subscriber_id = ss.subscriber_id
CROSS JOIN LATERAL (
    SELECT ARRAY(SELECT st.topic_id FROM subscriber_topics st
                 WHERE st.subscriber_id = s.subscriber_id) AS topic_ids
) chosen
CROSS JOIN LATERAL (
    SELECT array_agg(mi.item_id ORDER BY mi.position) AS item_ids
    FROM mailing_items mi
    JOIN items i ON i.item_id = mi.item_id
    WHERE mi.mailing_id = $1 AND NOT i.hidden
      AND i.topic_ids && chosen.topic_ids
      -- their language's items (and untagged ones), or every language if they chose both
      AND (s.both_languages OR i.language IS NULL
           OR mailer_language(i.language) = coalesce(mailer_language(s.locale), 'en'))
      AND NOT EXISTS (
          SELECT 1 FROM deliveries d
          WHERE d.subscriber_id = s.subscriber_id
            AND d.status IN ('queued', 'sending', 'deferred', 'sent')
            AND mi.item_id = ANY(d.item_ids))
      AND NOT EXISTS (
          SELECT 1 FROM sent_items si
          WHERE si.item_id = mi.item_id AND si.subscriber_id = s.subscriber_id)
) picked
WHERE ss.series_id = $2
  AND s.status = 'active' AND (s.paused_until IS NULL OR s.paused_until <= now())
  AND picked.item_ids IS NOT NULL

-- name: archive
-- Sent digests and alerts (both have a public web version).
SELECT m.mailing_id, m.slug, m.subject, m.started_at, m.kind, s.name AS series_name,
       m.content->>'intro_html' AS intro_html, m.content->>'intro_text' AS intro_text
FROM mailings m LEFT JOIN series s USING (series_id)
WHERE m.kind IN ('digest', 'alert') AND m.status IN ('sending', 'sent') AND m.slug IS NOT NULL
ORDER BY m.started_at DESC
LIMIT $1;

-- name: archived_digest
SELECT m.mailing_id, m.slug, m.subject, m.content, m.started_at, m.kind
FROM mailings m
WHERE m.kind IN ('digest', 'alert') AND m.status IN ('sending', 'sent') AND m.slug = $1;

-- name: subscriber_for_preview
SELECT s.subscriber_id, s.email, s.name, s.key_version, s.plain_text_only, s.locale,
       ARRAY(SELECT topic_id FROM subscriber_topics st WHERE st.subscriber_id = s.subscriber_id)
           AS topic_ids
FROM subscribers s WHERE s.subscriber_id = $1 OR s.email_key = $2;

-- name: items_for_subscriber
-- What digest_audience gives one subscriber (for previews; any subscriber, in the series or not).
SELECT coalesce(array_agg(mi.item_id ORDER BY mi.position), '{}') AS item_ids
FROM mailing_items mi
JOIN items i ON i.item_id = mi.item_id
WHERE mi.mailing_id = $1 AND NOT i.hidden
  AND i.topic_ids && ARRAY(SELECT st.topic_id FROM subscriber_topics st
                           WHERE st.subscriber_id = $2)
  AND (SELECT s.both_languages OR i.language IS NULL
              OR mailer_language(i.language) = coalesce(mailer_language(s.locale), 'en')
       FROM subscribers s WHERE s.subscriber_id = $2)
  AND NOT EXISTS (
      SELECT 1 FROM deliveries d
      WHERE d.subscriber_id = $2 AND d.mailing_id IS DISTINCT FROM $1
        AND d.status IN ('queued', 'sending', 'deferred', 'sent')
        AND mi.item_id = ANY(d.item_ids))
  AND NOT EXISTS (
      SELECT 1 FROM sent_items si WHERE si.item_id = mi.item_id AND si.subscriber_id = $2);

-- name: unscheduled_occurrence
-- An auto series' digest made for this occurrence that is still a draft: an earlier tick
-- made it but could not schedule it (a database error between the two, so the series did
-- not move on), or another instance is scheduling it right now (`recent`: leave it be).
SELECT mailing_id, created_at >= now() - interval '30 seconds' AS recent FROM mailings
WHERE series_id = $1 AND occurrence_at = $2 AND status = 'draft';
