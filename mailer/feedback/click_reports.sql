-- Reading the click counts: per mailing, per item, per topic, per day.

-- name: list_clicked_mailings
-- Mailings that went out with item links, newest first, with their totals.
SELECT m.mailing_id, m.kind, m.subject, m.started_at,
       coalesce(sum(c.clicks), 0)::bigint AS clicks,
       coalesce(sum(c.filtered), 0)::bigint AS filtered
FROM mailings m LEFT JOIN click_counts c USING (mailing_id)
WHERE m.started_at IS NOT NULL AND m.kind IN ('digest', 'alert', 'correction')
GROUP BY m.mailing_id
ORDER BY m.started_at DESC, m.mailing_id DESC
LIMIT $1;

-- name: get_mailing
SELECT mailing_id, kind, subject, status, started_at FROM mailings WHERE mailing_id = $1;

-- name: mailing_item_clicks
-- Every item the mailing carried (clicked or not) and any other item clicked in it.
SELECT i.item_id, i.title,
       coalesce(sum(c.clicks), 0)::bigint AS clicks,
       coalesce(sum(c.filtered), 0)::bigint AS filtered
FROM (SELECT item_id FROM mailing_items WHERE mailing_id = $1
      UNION SELECT item_id FROM click_counts WHERE mailing_id = $1) AS carried
JOIN items i USING (item_id)
LEFT JOIN click_counts c ON c.mailing_id = $1 AND c.item_id = i.item_id
GROUP BY i.item_id, i.title
ORDER BY i.item_id;

-- name: mailing_topic_clicks
-- An item under two topics counts under both.
SELECT t.topic_id, t.name,
       sum(c.clicks)::bigint AS clicks, sum(c.filtered)::bigint AS filtered
FROM click_counts c
JOIN items i USING (item_id)
CROSS JOIN LATERAL unnest(i.topic_ids) AS tid(topic_id)
JOIN topics t ON t.topic_id = tid.topic_id
WHERE c.mailing_id = $1
GROUP BY t.topic_id, t.name
ORDER BY t.topic_id;

-- name: mailing_day_clicks
SELECT day, sum(clicks)::bigint AS clicks, sum(filtered)::bigint AS filtered
FROM click_counts WHERE mailing_id = $1 GROUP BY day ORDER BY day;

-- name: get_item
SELECT item_id, title, link FROM items WHERE item_id = $1;

-- name: item_mailing_clicks
-- The mailings (digests, alerts, corrections) that carried or linked the item.
SELECT m.mailing_id, m.kind, m.subject, m.started_at,
       coalesce(sum(c.clicks), 0)::bigint AS clicks,
       coalesce(sum(c.filtered), 0)::bigint AS filtered
FROM (SELECT mailing_id FROM mailing_items WHERE item_id = $1
      UNION SELECT mailing_id FROM click_counts WHERE item_id = $1) AS carried
JOIN mailings m USING (mailing_id)
LEFT JOIN click_counts c ON c.item_id = $1 AND c.mailing_id = m.mailing_id
WHERE m.started_at IS NOT NULL
GROUP BY m.mailing_id
ORDER BY m.started_at DESC, m.mailing_id DESC;

-- name: item_day_clicks
SELECT day, sum(clicks)::bigint AS clicks, sum(filtered)::bigint AS filtered
FROM click_counts WHERE item_id = $1 GROUP BY day ORDER BY day;

-- name: mailing_click_rows
-- The finest grain, for CSV: one row per item, link and day.
SELECT c.day, c.mailing_id, m.kind, c.item_id, i.title, c.link, c.clicks, c.filtered
FROM click_counts c JOIN mailings m USING (mailing_id) JOIN items i USING (item_id)
WHERE c.mailing_id = $1
ORDER BY c.day, c.item_id, c.link;

-- name: item_click_rows
SELECT c.day, c.mailing_id, m.kind, c.item_id, i.title, c.link, c.clicks, c.filtered
FROM click_counts c JOIN mailings m USING (mailing_id) JOIN items i USING (item_id)
WHERE c.item_id = $1
ORDER BY c.day, c.mailing_id, c.link;

-- name: day_mailing_clicks
-- One day's totals per mailing (the daily webhook event).
SELECT c.mailing_id, m.kind, m.subject,
       sum(c.clicks)::bigint AS clicks, sum(c.filtered)::bigint AS filtered
FROM click_counts c JOIN mailings m USING (mailing_id)
WHERE c.day = $1
GROUP BY c.mailing_id, m.kind, m.subject
ORDER BY c.mailing_id;

-- name: mark_day_reported
-- Of several instances, the one that inserts reports the day.
INSERT INTO click_reports (day) VALUES ($1) ON CONFLICT DO NOTHING RETURNING day;
