-- bench/console's data: a newsletter three years old with {subscribers} subscribers and
-- {deliveries} delivery rows, made set-based (INSERT ... SELECT generate_series) in one
-- transaction. {subscribers}, {deliveries} and {mailings} are filled in by bench/console.py.
-- Deterministic: the same arguments give the same rows.

SET LOCAL synchronous_commit = off;
SET LOCAL maintenance_work_mem = '512MB';

CREATE FUNCTION pg_temp.bench_email(i bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT (ARRAY['ana','ben','chloe','dmitri','eve','fatima','gus','hana','ivan','jo','kofi'])[i % 11 + 1]
        || '.' || (ARRAY['smith','garcia','nguyen','okafor','muller','kowalski','rossi','tanaka','ng'])[(i * 7) % 9 + 1]
        || '.' || i || '@'
        || (ARRAY['example.org','example.com','mail.example.net','health.example.org','ex.co.uk'])[(i * 3) % 5 + 1]
$$;

INSERT INTO topics (slug, name, position)
SELECT slug, name, n FROM unnest(
    ARRAY['overdose-prevention','tobacco','vaccines','mental-health','nutrition','air-quality','hiv','maternal-health'],
    ARRAY['Overdose Prevention','Tobacco Control','Vaccines','Mental Health','Nutrition','Air Quality','HIV','Maternal Health']
) WITH ORDINALITY AS t(slug, name, n);

INSERT INTO series (slug, name, cron, timezone, mode, is_default, next_run_at)
VALUES ('daily', 'Daily digest', '0 7 * * *', 'Europe/Madrid', 'auto', true, now() + interval '5 hours'),
       ('weekly', 'Weekly round-up', '0 8 * * 1', 'Europe/Madrid', 'draft', false, now() + interval '2 days'),
       ('research', 'Research monthly', '0 9 1 * *', 'America/New_York', 'draft', false, now() + interval '20 days');

-- Subscribers: ids in signup order over three years; 80 % active, 8 % pending,
-- 9 % unsubscribed, 2 % suppressed, 1 % erased.
INSERT INTO subscribers (subscriber_id, email, email_key, name, status, locale, created_at,
                         updated_at, confirmed_at, unsubscribed_at, source, accepts_alerts)
SELECT i, e, e, CASE WHEN i % 3 = 0 THEN 'Reader ' || i END,
       st, CASE WHEN i % 10 = 0 THEN 'es' END, c, c,
       CASE WHEN st <> 'pending' THEN c + interval '20 minutes' END,
       CASE WHEN st = 'unsubscribed' THEN c + interval '90 days' END,
       (ARRAY['website','import','cms','webinar'])[i % 4 + 1], i % 5 = 0
FROM (SELECT i, pg_temp.bench_email(i) AS e,
             now() - interval '1095 days' * (1 - i::float8 / {subscribers}) - interval '1 minute' AS c,
             CASE WHEN i % 100 < 80 THEN 'active' WHEN i % 100 < 88 THEN 'pending'
                  WHEN i % 100 < 97 THEN 'unsubscribed' WHEN i % 100 < 99 THEN 'suppressed'
                  ELSE 'erased' END AS st
      FROM generate_series(1, {subscribers}) AS i) s;
UPDATE subscribers SET email = 'erased-' || subscriber_id || '@erased.invalid',
       email_key = 'erased-' || subscriber_id || '@erased.invalid', name = NULL
WHERE status = 'erased';
SELECT setval(pg_get_serial_sequence('subscribers', 'subscriber_id'), {subscribers});

-- One to three topics each (the erased have none), the default series for all who receive
-- mail, the weekly one for a third.
INSERT INTO subscriber_topics (subscriber_id, topic_id)
SELECT s.subscriber_id, t.topic_id
FROM subscribers s
JOIN topics t ON t.position = s.subscriber_id % 8 + 1
     OR (s.subscriber_id % 3 > 0 AND t.position = (s.subscriber_id * 5 + 3) % 8 + 1)
     OR (s.subscriber_id % 3 = 2 AND t.position = (s.subscriber_id * 11 + 6) % 8 + 1)
WHERE s.status <> 'erased';
INSERT INTO subscriber_series (subscriber_id, series_id)
SELECT s.subscriber_id, se.series_id
FROM subscribers s JOIN series se ON se.slug = 'daily' OR (se.slug = 'weekly' AND s.subscriber_id % 3 = 0)
WHERE s.status IN ('active', 'pending');

-- The consent ledger: a signup each, a confirmation for all who confirmed, an unsubscribe.
INSERT INTO consent_events (subscriber_id, email_hash, action, occurred_at, ip, source, topics)
SELECT s.subscriber_id, sha256(convert_to(s.email_key, 'UTF8')), a.action,
       s.created_at + a.after, '192.0.2.1'::inet + (s.subscriber_id % 250), s.source,
       CASE WHEN a.action <> 'unsubscribe' THEN ARRAY(
           SELECT t.slug FROM subscriber_topics x JOIN topics t USING (topic_id)
           WHERE x.subscriber_id = s.subscriber_id ORDER BY t.slug) END
FROM subscribers s
CROSS JOIN LATERAL (VALUES ('signup', interval '0'), ('confirm', interval '20 minutes'),
                           ('unsubscribe', interval '90 days')) AS a(action, after)
WHERE a.action = 'signup'
   OR (a.action = 'confirm' AND s.status IN ('active', 'unsubscribed', 'suppressed'))
   OR (a.action = 'unsubscribe' AND s.status = 'unsubscribed');

-- Suppressions: the suppressed subscribers and as many addresses no longer here.
INSERT INTO suppressions (email_hash, reason, detail, created_at)
SELECT sha256(convert_to(email_key, 'UTF8')),
       (ARRAY['hard_bounce','complaint','manual','soft_bounce'])[subscriber_id % 4 + 1],
       '550 5.1.1 user unknown', created_at + interval '200 days'
FROM subscribers WHERE status = 'suppressed'
UNION ALL
SELECT sha256(convert_to('gone.' || i || '@example.net', 'UTF8')), 'erased', NULL,
       now() - interval '1 day' * (i % 900)
FROM generate_series(1, {subscribers} / 50) AS i;

-- A polled feed (paused: nothing fetches it here), and items from the push source, one
-- every six hours, each in a topic.
INSERT INTO feed_sources (kind, url, name, paused)
VALUES ('feed', 'https://news.example.org/feed.xml', 'Health News feed', true);

INSERT INTO items (source_id, guid, link, title, summary_html, summary_text, topic_ids,
                   published_at, content_hash)
SELECT (SELECT source_id FROM feed_sources WHERE kind = 'push'), 'bench-' || i,
       'https://news.example.org/stories/' || i, 'Story number ' || i || ' about public health',
       '<p>Summary of story ' || i || '.</p>', 'Summary of story ' || i || '.',
       ARRAY[(SELECT topic_id FROM topics WHERE position = i % 8 + 1)],
       now() - interval '6 hours' * (4400 - i), '\x00'::bytea
FROM generate_series(1, 4400) AS i;

-- Mailings: one sent digest a day for {mailings} days, a few alerts; one digest scheduled,
-- two drafts.
INSERT INTO mailings (kind, status, subject, list_id, series_id, occurrence_at, scheduled_at,
                      started_at, finished_at, slug, created_at)
SELECT 'digest', 'sent', 'Daily digest ' || d, 'digest', (SELECT series_id FROM series WHERE slug = 'daily'),
       now() - interval '1 day' * d, now() - interval '1 day' * d, now() - interval '1 day' * d,
       now() - interval '1 day' * d + interval '40 minutes', 'daily-digest-' || d,
       now() - interval '1 day' * d - interval '2 hours'
FROM generate_series({mailings}, 1, -1) AS d;
INSERT INTO mailings (kind, status, subject, list_id, priority, slug, started_at, finished_at, created_at)
SELECT 'alert', 'sent', 'Alert ' || d, 'alerts', 10, 'alert-' || d, now() - interval '1 day' * d - interval '3 hours',
       now() - interval '1 day' * d - interval '2 hours', now() - interval '1 day' * d - interval '4 hours'
FROM generate_series(1, {mailings}, 20) AS d;
INSERT INTO alerts (mailing_id, item_id, origin, requested_by, recipients, confirmed_by, confirmed_at)
SELECT m.mailing_id, (SELECT max(item_id) FROM items) - m.mailing_id % 100, 'editor',
       'editor@example.org', 1000, 'editor@example.org', m.created_at
FROM mailings m WHERE m.kind = 'alert';
INSERT INTO mailings (kind, status, subject, list_id, series_id, occurrence_at, scheduled_at, slug)
VALUES ('digest', 'scheduled', 'Tomorrow''s digest', 'digest', (SELECT series_id FROM series WHERE slug = 'daily'),
        now() + interval '5 hours', now() + interval '5 hours', 'daily-digest-next');
INSERT INTO mailings (kind, status, subject, list_id, series_id)
SELECT 'digest', 'draft', 'Weekly draft ' || n, 'digest', (SELECT series_id FROM series WHERE slug = 'weekly')
FROM generate_series(1, 2) AS n;
INSERT INTO mailing_items (mailing_id, item_id, position)
SELECT m.mailing_id, i.item_id, i.n
FROM mailings m
CROSS JOIN LATERAL (SELECT item_id, row_number() OVER () AS n FROM items
                    WHERE published_at <= coalesce(m.started_at, now()) ORDER BY published_at DESC LIMIT 8) i
WHERE m.kind = 'digest';

-- Deliveries: the mailings share ({deliveries} - transactional) rows, each mailing to a
-- run of consecutive subscribers; one confirmation mail for every signup.
INSERT INTO deliveries (mailing_id, subscriber_id, kind, recipient, status, attempts,
                        next_attempt_at, created_at, sent_at, finished_at, message_id)
SELECT NULL, s.i, 'confirm', pg_temp.bench_email(s.i), 'sent', 1, c, c, c, c,
       '<c' || s.i || '@news.example.org>'
FROM (SELECT i, now() - interval '1095 days' * (1 - i::float8 / {subscribers}) AS c
      FROM generate_series(1, least({subscribers}, {deliveries} / 10)) AS i) s;
INSERT INTO deliveries (mailing_id, subscriber_id, kind, recipient, status, attempts,
                        next_attempt_at, created_at, sent_at, finished_at, message_id)
SELECT m.mailing_id, sub, m.kind, pg_temp.bench_email(sub), st, 1, m.started_at, m.started_at,
       CASE WHEN st = 'sent' THEN m.started_at + interval '10 minutes' END,
       m.started_at + interval '10 minutes',
       CASE WHEN st = 'sent' THEN '<d' || m.mailing_id || '.' || sub || '@news.example.org>' END
FROM (SELECT mailing_id, kind, started_at, row_number() OVER (ORDER BY mailing_id) - 1 AS n,
             count(*) OVER () AS total
      FROM mailings WHERE status = 'sent') m
CROSS JOIN LATERAL (
    SELECT ((m.n * 7919 + k * 1) % {subscribers}) + 1 AS sub,
           CASE WHEN k % 200 = 0 THEN 'failed' WHEN k % 100 = 1 THEN 'suppressed'
                WHEN k % 500 = 2 THEN 'cancelled' ELSE 'sent' END AS st
    FROM generate_series(1, ({deliveries} - least({subscribers}, {deliveries} / 10)) / m.total) AS k
) r;

-- Bounces: one in two hundred deliveries of the last 60 days, a few complaints.
INSERT INTO bounces (delivery_id, subscriber_id, mailing_id, kind, source, detail, created_at)
SELECT d.delivery_id, d.subscriber_id, d.mailing_id,
       (ARRAY['hard','soft','block','complaint'])[d.delivery_id % 4 + 1], 'dsn',
       '550 5.1.1 user unknown', d.created_at + interval '15 minutes'
FROM deliveries d
WHERE d.status = 'failed' AND d.mailing_id IS NOT NULL AND d.created_at > now() - interval '60 days';
INSERT INTO bounce_reports (received_at, source, kind, status, envelope_to, delivery_id,
                            subscriber_id, summary)
SELECT b.created_at, 'mailbox', 'dsn', 'processed', 'bounces@news.example.org', b.delivery_id,
       b.subscriber_id, '{{"action": "failed"}}'::jsonb
FROM bounces b;

-- Clicks per mailing, item, link and day.
INSERT INTO click_counts (mailing_id, item_id, link, day, clicks, filtered)
SELECT m.mailing_id, mi.item_id, i.link, (m.started_at + interval '1 day' * k)::date,
       (mi.item_id * 37 + k * 11) % 400 + 1, (mi.item_id + k) % 7
FROM mailings m JOIN mailing_items mi USING (mailing_id) JOIN items i USING (item_id)
CROSS JOIN generate_series(0, 2) AS k
WHERE m.status = 'sent';

-- Imports the operators ran, with a few refused rows.
INSERT INTO subscriber_imports (status, mode, file_name, file_bytes, requested_by, rows_read,
                                bytes_read, summary, created_at, updated_at, finished_at)
SELECT 'done', 'consented', 'members-' || n || '.csv', 1000000, 'editor@example.org', 50000,
       1000000, '{{"added": 49000, "rejected": 1000}}'::jsonb, now() - interval '10 days' * n,
       now() - interval '10 days' * n, now() - interval '10 days' * n
FROM generate_series(1, 30) AS n;
INSERT INTO subscriber_import_rejects (import_id, line, reason_key, reason, cells)
SELECT i.import_id, n, 'invalid_email', 'not an address', ARRAY['not-an-address-' || n]
FROM subscriber_imports i CROSS JOIN generate_series(1, 1000) AS n;

-- A webhook endpoint, a correction awaiting confirmation, a saved template version.
INSERT INTO hook_endpoints (url, secret, event_types, description)
VALUES ('https://hooks.example.org/mailer', 'bench-hook-secret-0123456789abcdef', ARRAY['subscriber.confirmed'], 'CRM');
INSERT INTO corrections (item_id, kind, note, old_title, new_title, old_summary_html,
                         new_summary_html, old_summary_text, new_summary_text, origin, requested_by)
SELECT item_id, 'correction', 'The figure was wrong.', title, title || ' (corrected)', summary_html,
       summary_html, summary_text, summary_text, 'editor', 'editor@example.org'
FROM items ORDER BY item_id DESC LIMIT 1;
INSERT INTO mail_template_versions (kind, action, editor_email) VALUES ('digest', 'default', 'editor@example.org');
