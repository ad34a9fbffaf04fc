-- Mail template versions saved in the console; the newest of each kind is in force.

-- name: current_versions
-- The version in force of every kind that has one (a 'default' version: the files rule).
SELECT DISTINCT ON (kind) version_id, kind, subject_txt, body_txt, body_html, action
FROM mail_template_versions
ORDER BY kind, version_id DESC;

-- name: list_versions
SELECT version_id, kind, action, reverted_from, editor_email, created_at, failed_at, failure
FROM mail_template_versions WHERE kind = $1
ORDER BY version_id DESC
LIMIT $2;

-- name: get_version
SELECT version_id, kind, subject_txt, body_txt, body_html, action, reverted_from,
       editor_email, created_at, failed_at, failure
FROM mail_template_versions WHERE version_id = $1 AND kind = $2;

-- name: add_version
INSERT INTO mail_template_versions
    (kind, subject_txt, body_txt, body_html, action, reverted_from, editor_id, editor_email)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING version_id, created_at;

-- name: lock_kind
-- Saves of one kind take turns, so "the version in force" is always the newest row.
SELECT pg_advisory_xact_lock(hashtext('mailer_mail_template:' || $1));

-- name: mark_failed
-- The first failure is kept (and when): the one an editor needs to see.
UPDATE mail_template_versions SET failed_at = now(), failure = $2
WHERE version_id = $1 AND failed_at IS NULL;
