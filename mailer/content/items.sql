-- The item store: de-duplicated by the feed's guid (per source) and by canonical link.

-- name: find_existing
SELECT item_id, source_id, guid, link, content_hash, edited_at
FROM items
WHERE (source_id = $1 AND guid = ANY($2::text[])) OR link = ANY($3::text[]);

-- name: insert_items
-- Lists per row (categories, topic ids) travel as JSON text: SQL arrays must be rectangular.
-- Rows racing another poll for the same link or guid are skipped (found next time).
INSERT INTO items (source_id, guid, link, title, summary_html, summary_text, image_url,
                   image_alt, author, language, categories, topic_ids, published_at,
                   content_hash)
SELECT $1, i.guid, i.link, i.title, i.summary_html, i.summary_text, i.image_url, i.image_alt,
       i.author, i.language,
       ARRAY(SELECT jsonb_array_elements_text(i.categories::jsonb)),
       ARRAY(SELECT jsonb_array_elements_text(i.topic_ids::jsonb)::bigint),
       coalesce(i.published_at, now()), i.content_hash
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[], $14::bytea[])
     AS i(guid, link, title, summary_html, summary_text, image_url, image_alt, author, language,
          categories, topic_ids, published_at, content_hash)
ON CONFLICT DO NOTHING
RETURNING item_id, guid, link;

-- name: delete_created_items
-- Rows this poll inserted from an earlier chunk that one statement would have skipped.
DELETE FROM items WHERE item_id = ANY($1::bigint[]);

-- name: update_items
-- Upstream changed an item: take the new version, except what an editor changed by hand.
UPDATE items t
SET link = coalesce(u.link, t.link),
    title = CASE WHEN t.edited_at IS NULL THEN u.title ELSE t.title END,
    summary_html = CASE WHEN t.edited_at IS NULL THEN u.summary_html ELSE t.summary_html END,
    summary_text = CASE WHEN t.edited_at IS NULL THEN u.summary_text ELSE t.summary_text END,
    topic_ids = CASE WHEN t.edited_at IS NULL
                     THEN ARRAY(SELECT jsonb_array_elements_text(u.topic_ids::jsonb)::bigint)
                     ELSE t.topic_ids END,
    image_url = u.image_url, image_alt = u.image_alt, author = u.author, language = u.language,
    categories = ARRAY(SELECT jsonb_array_elements_text(u.categories::jsonb)),
    published_at = coalesce(u.published_at, t.published_at),
    content_hash = u.content_hash, updated_at = now()
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[],
            $13::bytea[])
     AS u(item_id, link, title, summary_html, summary_text, image_url, image_alt, author,
          language, categories, topic_ids, published_at, content_hash)
WHERE t.item_id = u.item_id;

-- name: list_items
-- Editors' view; keyset pagination on (published_at, item_id).
SELECT i.item_id, i.source_id, i.guid, i.link, i.title, i.summary_html, i.summary_text,
       i.image_url, i.image_alt, i.author, i.language, i.categories, i.published_at,
       i.first_seen_at, i.updated_at, i.hidden, i.edited_at,
       ARRAY(SELECT t.slug FROM topics t WHERE t.topic_id = ANY(i.topic_ids)
             ORDER BY t.position, t.name) AS topics,
       EXISTS (SELECT 1 FROM mailing_items mi JOIN mailings m USING (mailing_id)
               WHERE mi.item_id = i.item_id AND m.status = 'sent') AS sent
FROM items i
WHERE ($1::bigint IS NULL OR i.topic_ids @> ARRAY[$1::bigint])
  AND ($2::bigint IS NULL OR i.source_id = $2)
  AND ($3::timestamptz IS NULL OR i.published_at >= $3)
  AND (NOT $4::boolean OR NOT EXISTS (
        SELECT 1 FROM mailing_items mi JOIN mailings m USING (mailing_id)
        WHERE mi.item_id = i.item_id AND m.status = 'sent'))
  AND ($5::text IS NULL OR i.title ILIKE '%' || $5 || '%')
  AND ($6::boolean OR NOT i.hidden)
  AND ($7::timestamptz IS NULL OR (i.published_at, i.item_id) < ($7, $8::bigint))
ORDER BY i.published_at DESC, i.item_id DESC
LIMIT $9;

-- name: get_item
SELECT item_id, title, summary_html, topic_ids, hidden, edited_at FROM items WHERE item_id = $1
FOR UPDATE;

-- name: edit_item
UPDATE items
SET title = $2, summary_html = $3, summary_text = $4, topic_ids = $5, hidden = $6,
    edited_at = CASE WHEN $7 THEN now() ELSE edited_at END, updated_at = now()
WHERE item_id = $1;

-- name: push_source
SELECT source_id FROM feed_sources WHERE kind = 'push' ORDER BY source_id LIMIT 1;

-- name: items_by_guid
SELECT item_id, guid FROM items WHERE source_id = $1 AND guid = ANY($2::text[]);

-- name: delete_items_by_guid
DELETE FROM items WHERE source_id = $1 AND guid = ANY($2::text[]) RETURNING guid;

-- name: hide_items_by_guid
UPDATE items SET hidden = true, updated_at = now()
WHERE source_id = $1 AND guid = ANY($2::text[]) RETURNING guid;

-- name: topic_ids_by_slug
SELECT slug, topic_id FROM topics;

-- name: link_translations
-- CMS pushes: each translation ($2, CMS ids) points at its original ($3, CMS ids); a
-- translation pushed without topics takes its original's, so it reaches the same readers.
UPDATE items t
SET translation_of = o.item_id,
    topic_ids = CASE WHEN cardinality(t.topic_ids) = 0 THEN o.topic_ids ELSE t.topic_ids END
FROM unnest($2::text[], $3::text[]) AS x(guid, original)
JOIN items o ON o.source_id = $1 AND o.guid = x.original
WHERE t.source_id = $1 AND t.guid = x.guid AND o.item_id <> t.item_id
RETURNING t.guid;
