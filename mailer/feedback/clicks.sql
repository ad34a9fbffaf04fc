-- Counting clicks of redirect links: aggregate counters only.

-- name: upsert_click_counts
-- A batch of increments (negative too: clicks moved to filtered when a burst shows a scanner);
-- counts for a mailing or an item deleted meanwhile are dropped.
INSERT INTO click_counts AS c (mailing_id, item_id, link, day, clicks, filtered)
SELECT u.mailing_id, u.item_id, u.link, u.day, u.clicks, u.filtered
FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::date[], $5::integer[], $6::integer[])
     AS u(mailing_id, item_id, link, day, clicks, filtered)
WHERE EXISTS (SELECT 1 FROM mailings m WHERE m.mailing_id = u.mailing_id)
  AND EXISTS (SELECT 1 FROM items i WHERE i.item_id = u.item_id)
ON CONFLICT (mailing_id, item_id, link, day) DO UPDATE
SET clicks = c.clicks + EXCLUDED.clicks, filtered = c.filtered + EXCLUDED.filtered;

-- name: get_mailing_start
-- When a mailing started sending (NULL: not yet, or no such mailing).
SELECT started_at FROM mailings WHERE mailing_id = $1;
