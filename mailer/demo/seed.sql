-- The first run in development: demo data seeded once per database (mailer/demo_seed.py).

-- name: demo_decided
-- A cheap look before anything costly (hashing a password) at every development start.
SELECT EXISTS (SELECT 1 FROM demo_seed);

-- name: claim_demo_seed
-- The marker's key makes a second instance starting at once wait for this transaction and
-- then insert nothing: the database is seeded once.
INSERT INTO demo_seed (outcome) VALUES ('skipped')
ON CONFLICT (only_row) DO NOTHING
RETURNING true;

-- name: database_has_data
-- Anything an operator or a signup made: not a fresh install, so no demo data mixes in.
SELECT EXISTS (SELECT 1 FROM topics)
    OR EXISTS (SELECT 1 FROM series)
    OR EXISTS (SELECT 1 FROM editors)
    OR EXISTS (SELECT 1 FROM subscribers)
    OR EXISTS (SELECT 1 FROM mailings)
    OR EXISTS (SELECT 1 FROM api_keys)
    OR EXISTS (SELECT 1 FROM feed_sources WHERE kind = 'feed');

-- name: mark_demo_seeded
UPDATE demo_seed SET outcome = 'seeded', admin_email = $1, feed_source_id = $2, series_id = $3;

-- name: get_demo_seed
-- What the start page tells a newcomer; no row: the first start has not decided yet.
SELECT d.outcome, d.decided_at, d.admin_email, f.url AS feed_url, s.name AS series_name
FROM demo_seed d
LEFT JOIN feed_sources f ON f.source_id = d.feed_source_id
LEFT JOIN series s ON s.series_id = d.series_id;

-- name: get_demo_anchor
-- The demo feed's dates are relative to the moment it was seeded, so they stay put.
SELECT decided_at FROM demo_seed WHERE outcome = 'seeded';

-- name: move_demo_feed
-- The demo source follows MAILER_LISTEN: after a restart on another port it is polled there
-- (at once, and its back-off from polls of the old address forgotten).
UPDATE feed_sources
SET url = $1, next_poll_at = now(), failures = 0, last_error = NULL, updated_at = now()
WHERE source_id = (SELECT feed_source_id FROM demo_seed)
  AND url <> $1
  AND NOT EXISTS (SELECT 1 FROM feed_sources WHERE url = $1)
RETURNING source_id;

-- name: count_other_sessions
-- Other clients of this database (a running `mailer serve`): a reset must not pull the
-- tables from under them.
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend';

-- name: drop_public_schema
-- Every table, function and extension of this database's public schema (mailer keeps all of
-- its own there); the migrations then build it again.
DROP SCHEMA public CASCADE;

-- name: create_public_schema
CREATE SCHEMA public;

-- name: grant_public_schema
-- As PostgreSQL creates it: everyone may use it (creating in it stays the owner's).
GRANT USAGE ON SCHEMA public TO PUBLIC;

-- name: demo_create_topic
-- The same row create_topic in its own domain makes, written here in the seed's one transaction.
INSERT INTO topics (slug, name, description, public, position)
VALUES ($1, $2, $3, $4, $5)
RETURNING topic_id, slug, name, description, public, position;

-- name: demo_create_series
-- The same row create_series in its own domain makes, written here in the seed's one transaction.
INSERT INTO series (slug, name, description, cron, timezone, mode, is_default, next_run_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *;

-- name: demo_create_source
-- The same row create_source in its own domain makes, written here in the seed's one transaction.
INSERT INTO feed_sources (url, name, default_topics, category_rules, poll_interval)
VALUES ($1, $2, $3, $4, $5)
RETURNING *;

-- name: demo_create_editor
-- The same row create_editor in its own domain makes, written here in the seed's one transaction.
INSERT INTO editors (email, email_key, name, role, password_hash)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (email_key) DO NOTHING
RETURNING editor_id;
