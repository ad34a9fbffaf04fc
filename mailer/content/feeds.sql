-- Feed sources and their polling state.

-- name: create_source
INSERT INTO feed_sources (url, name, default_topics, category_rules, poll_interval)
VALUES ($1, $2, $3, $4, $5)
RETURNING *;

-- name: list_sources
SELECT * FROM feed_sources WHERE kind = 'feed' ORDER BY source_id;

-- name: get_source
SELECT * FROM feed_sources WHERE source_id = $1 AND kind = 'feed';

-- name: update_source
-- A new address ($7) is polled at once with none of the old address's poll state (validators,
-- body hash, error, failures); the items stay, and the feed's guids still match them.
UPDATE feed_sources
SET name = coalesce($2, name), default_topics = coalesce($3, default_topics),
    category_rules = coalesce($4, category_rules), poll_interval = coalesce($5, poll_interval),
    paused = coalesce($6, paused),
    body_hash = NULL,  -- new rules or topics apply to the next poll
    next_poll_at = CASE WHEN $6 = false OR $7 <> url THEN now() ELSE next_poll_at END,
    etag = CASE WHEN $7 <> url THEN NULL ELSE etag END,
    last_modified = CASE WHEN $7 <> url THEN NULL ELSE last_modified END,
    last_error = CASE WHEN $7 <> url THEN NULL ELSE last_error END,
    last_warning = CASE WHEN $7 <> url THEN NULL ELSE last_warning END,
    last_status = CASE WHEN $7 <> url THEN NULL ELSE last_status END,
    failures = CASE WHEN $7 <> url THEN 0 ELSE failures END,
    url = coalesce($7, url),
    updated_at = now()
WHERE source_id = $1 AND kind = 'feed'
RETURNING *;

-- name: delete_source
DELETE FROM feed_sources WHERE source_id = $1 AND kind = 'feed' RETURNING source_id;

-- name: claim_due_sources
-- Each due source is taken by one instance: its next poll moves out of reach at once.
UPDATE feed_sources s
SET next_poll_at = now() + make_interval(secs => s.poll_interval)
WHERE s.source_id IN (
    SELECT source_id FROM feed_sources
    WHERE kind = 'feed' AND NOT paused AND next_poll_at <= now()
    ORDER BY next_poll_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
RETURNING s.*;

-- name: claim_source
UPDATE feed_sources SET next_poll_at = now() + make_interval(secs => poll_interval)
WHERE source_id = $1 AND kind = 'feed'
RETURNING *;

-- name: record_success
UPDATE feed_sources
SET last_polled_at = now(), last_status = $2, last_error = NULL, last_warning = $3,
    etag = coalesce($4, etag), last_modified = coalesce($5, last_modified),
    items_seen = $6, failures = 0, body_hash = coalesce($7, body_hash), updated_at = now()
WHERE source_id = $1;

-- name: record_failure
-- A failing source backs off (doubling, at most 6 hours) and keeps its error for editors.
UPDATE feed_sources
SET last_polled_at = now(), last_status = $2, last_error = $3, failures = failures + 1,
    next_poll_at = now() + make_interval(
        secs => least(poll_interval * power(2, least(failures + 1, 10)), 21600)),
    updated_at = now()
WHERE source_id = $1;
