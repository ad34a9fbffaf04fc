-- The public archive: what search engines, feed readers and link previews read.

-- name: mailing_items_public
-- The items a sent mailing carried, in its order, as stored (summaries sanitised on
-- intake); hidden (pulled, retracted) ones are left out as they are from the mail.
SELECT i.item_id, i.title, i.link, i.summary_html, i.summary_text, i.image_url, i.image_alt,
       i.author, i.published_at, mailer_language(i.language) AS language
FROM mailing_items mi JOIN items i USING (item_id)
WHERE mi.mailing_id = $1 AND NOT i.hidden
ORDER BY mi.position, i.item_id;

-- name: feed_items
-- Items of the newest sent mailings, for the Atom feed's full text: one query, not one per
-- entry.
SELECT mi.mailing_id, i.item_id, i.title, i.link, i.summary_html, i.image_url, i.image_alt,
       mailer_language(i.language) AS language
FROM mailing_items mi JOIN items i USING (item_id)
WHERE mi.mailing_id = ANY($1::bigint[]) AND NOT i.hidden
ORDER BY mi.mailing_id, mi.position, i.item_id;

-- name: sitemap_mailings
-- Archive pages and when each last changed (a correction changes the page).
SELECT m.slug,
       greatest(coalesce(m.finished_at, m.started_at), m.started_at,
                (SELECT max(c.created_at) FROM corrections c
                 JOIN mailing_items mi ON mi.item_id = c.item_id
                 WHERE mi.mailing_id = m.mailing_id)) AS lastmod
FROM mailings m
WHERE m.kind IN ('digest', 'alert') AND m.status IN ('sending', 'sent') AND m.slug IS NOT NULL
ORDER BY m.started_at DESC
LIMIT $1;

-- name: sitemap_items
-- Item pages (items that went out in a public mailing) and when each last changed.
SELECT i.item_id,
       greatest(i.updated_at, coalesce(i.edited_at, i.updated_at),
                (SELECT max(c.created_at) FROM corrections c WHERE c.item_id = i.item_id))
           AS lastmod
FROM items i
WHERE EXISTS (SELECT 1 FROM mailing_items mi JOIN mailings m USING (mailing_id)
              WHERE mi.item_id = i.item_id AND m.kind IN ('digest', 'alert')
                AND m.status IN ('sending', 'sent') AND m.slug IS NOT NULL)
ORDER BY i.item_id DESC
LIMIT $1;

-- name: search
-- Items and digests matching the words, best first; the query is the words stemmed in
-- English, in Spanish and as written, so a reader finds an item in either language (and an
-- untagged one). $2 rows from $3 on; the caller asks one more than it shows to know if a
-- next page exists.
WITH q AS (
    SELECT websearch_to_tsquery('english', $1) || websearch_to_tsquery('spanish', $1)
           || websearch_to_tsquery('simple', $1) AS query
)
SELECT kind, item_id, slug, title, snippet, dated, language FROM (
    SELECT 'item' AS kind, i.item_id, NULL::text AS slug, i.title,
           left(i.summary_text, 400) AS snippet, i.published_at AS dated,
           mailer_language(i.language) AS language,
           ts_rank(mailer_item_search(i.language, i.title, i.summary_text), q.query) AS rank
    FROM items i, q
    WHERE mailer_item_search(i.language, i.title, i.summary_text) @@ q.query
      AND NOT i.hidden
      AND EXISTS (SELECT 1 FROM mailing_items mi JOIN mailings m USING (mailing_id)
                  WHERE mi.item_id = i.item_id AND m.kind IN ('digest', 'alert')
                    AND m.status IN ('sending', 'sent') AND m.slug IS NOT NULL)
    UNION ALL
    SELECT m.kind, NULL, m.slug, m.subject, left(m.intro_md, 400), m.started_at, NULL,
           ts_rank(mailer_mailing_search(m.subject, m.intro_md, m.texts), q.query)
    FROM mailings m, q
    WHERE m.kind IN ('digest', 'alert')
      AND mailer_mailing_search(m.subject, m.intro_md, m.texts) @@ q.query
      AND m.status IN ('sending', 'sent') AND m.slug IS NOT NULL
) found
ORDER BY rank DESC, dated DESC, slug, item_id
LIMIT $2 OFFSET $3;
