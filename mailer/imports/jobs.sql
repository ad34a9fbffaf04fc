-- The record of each subscriber import, its progress, and the rows it did not apply.

-- name: create_import
INSERT INTO subscriber_imports (mode, dry_run, source, file_name, file_bytes, options,
                                requested_by, columns)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING import_id;

-- name: record_progress
-- Written in each chunk's transaction: the counts always match what is committed.
UPDATE subscriber_imports
SET rows_read = $2, bytes_read = $3, summary = $4, columns = coalesce($5, columns),
    updated_at = now()
WHERE import_id = $1;

-- name: finish_import
UPDATE subscriber_imports
SET status = $2, summary = coalesce($3, summary), error = $4, finished_at = now(),
    updated_at = now()
WHERE import_id = $1;

-- name: get_import
-- A running import whose heartbeat stopped (its process died) shows as interrupted.
SELECT import_id,
       CASE WHEN status = 'running' AND updated_at < now() - make_interval(secs => $2)
            THEN 'interrupted' ELSE status END AS status,
       mode, dry_run, source, file_name, file_bytes, options, requested_by, rows_read,
       bytes_read, summary, error, created_at, updated_at, finished_at,
       (SELECT count(*) FROM subscriber_import_rejects r WHERE r.import_id = i.import_id)
           AS rejects
FROM subscriber_imports i WHERE import_id = $1;

-- name: import_columns
SELECT columns, options FROM subscriber_imports WHERE import_id = $1;

-- name: list_rejects
SELECT line, reason_key, reason, cells FROM subscriber_import_rejects
WHERE import_id = $1 ORDER BY line;
