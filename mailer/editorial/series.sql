-- Digest series and their schedule.

-- name: create_series
INSERT INTO series (slug, name, description, cron, timezone, mode, is_default, next_run_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *;

-- name: list_series
SELECT * FROM series ORDER BY series_id;

-- name: get_series
SELECT * FROM series WHERE series_id = $1;

-- name: update_series
UPDATE series
SET name = coalesce($2, name), description = coalesce($3, description),
    cron = coalesce($4, cron), timezone = coalesce($5, timezone), mode = coalesce($6, mode),
    is_default = coalesce($7, is_default), active = coalesce($8, active),
    next_run_at = coalesce($9, next_run_at), updated_at = now()
WHERE series_id = $1
RETURNING *;

-- name: due_series
SELECT * FROM series WHERE active AND next_run_at <= $1 ORDER BY next_run_at;

-- name: advance_series
-- Guarded by the occurrence it was at: of several instances, one moves it on.
UPDATE series SET next_run_at = $3, updated_at = now()
WHERE series_id = $1 AND next_run_at = $2
RETURNING series_id;

-- name: default_series
SELECT series_id FROM series WHERE is_default AND active;

-- name: lock_series
SELECT * FROM series WHERE series_id = $1 FOR UPDATE;

-- name: unfinished_digests
-- Digests that still need their series (its subscribers are the recipients).
SELECT mailing_id, status, subject FROM mailings
WHERE series_id = $1 AND status IN ('draft', 'scheduled', 'sending', 'paused')
ORDER BY mailing_id;

-- name: series_usage
-- Its subscribers are the kept count (editorial/counts.py: the default series' members are
-- nearly everyone, 0.1-0.2 s to count at 1,000,000).
SELECT (SELECT count(*) FROM mailings WHERE series_id = $1 AND status = 'sent') AS sent;

-- name: delete_series
-- Subscribers' choices of it go with it (cascade); sent digests stay, without a series.
DELETE FROM series WHERE series_id = $1 RETURNING series_id;
