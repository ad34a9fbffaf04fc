-- Editor accounts, console sessions, set-password links and sign-in attempts.

-- name: create_editor
INSERT INTO editors (email, email_key, name, role, password_hash)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (email_key) DO NOTHING
RETURNING editor_id;

-- name: get_editor_by_email
SELECT * FROM editors WHERE email_key = $1;

-- name: get_editor
SELECT * FROM editors WHERE editor_id = $1;

-- name: list_editors
SELECT editor_id, email, name, role, timezone, created_at, last_sign_in_at, disabled_at,
       password_hash IS NOT NULL AS has_password
FROM editors ORDER BY disabled_at IS NOT NULL, lower(name), email_key;

-- name: set_password_hash
UPDATE editors SET password_hash = $2 WHERE editor_id = $1 RETURNING editor_id;

-- name: replace_password
-- A password the account's owner chose: any duty to change it is met.
UPDATE editors SET password_hash = $2, must_change_password = false WHERE editor_id = $1
RETURNING editor_id;

-- name: require_password_change
-- The password was given out (the demo admin's, printed at the first start): the owner
-- chooses their own at the next sign-in, before anything else.
UPDATE editors SET must_change_password = true WHERE email_key = $1;

-- name: delete_other_sessions
DELETE FROM editor_sessions WHERE editor_id = $1 AND session_id <> $2;

-- name: disable_editor
UPDATE editors SET disabled_at = coalesce(disabled_at, now()) WHERE editor_id = $1
RETURNING editor_id;

-- name: enable_editor
UPDATE editors SET disabled_at = NULL WHERE editor_id = $1 RETURNING editor_id;

-- name: set_role
UPDATE editors SET role = $2 WHERE editor_id = $1 RETURNING editor_id;

-- name: set_timezone
UPDATE editors SET timezone = $2 WHERE editor_id = $1;

-- name: remember_first_zone
-- The browser's zone at sign-in, kept only while the editor has none (a zone they chose
-- for a schedule wins).
UPDATE editors SET timezone = $2 WHERE editor_id = $1 AND timezone IS NULL;

-- name: mark_signed_in
UPDATE editors SET last_sign_in_at = now() WHERE editor_id = $1;

-- name: create_password_token
INSERT INTO editor_password_tokens (token_hash, editor_id, expires_at)
VALUES ($1, $2, now() + make_interval(secs => $3));

-- name: get_password_token
-- A usable set-password link: not used, not expired, its editor not disabled.
SELECT t.editor_id, e.email, e.name
FROM editor_password_tokens t JOIN editors e USING (editor_id)
WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now()
  AND e.disabled_at IS NULL
FOR UPDATE OF t;

-- name: use_password_tokens
-- Setting a password spends every open link of that editor.
UPDATE editor_password_tokens SET used_at = now()
WHERE editor_id = $1 AND used_at IS NULL;

-- name: create_session
INSERT INTO editor_sessions (editor_id, token_hash, csrf_token, expires_at, ip, user_agent)
VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5::text::inet, $6)
RETURNING session_id;

-- name: get_session
-- A live session of an enabled editor; touches last_seen_at at most once a minute (so a
-- busy console page is not a write per request) and keeps it only while not idle too long.
UPDATE editor_sessions s
SET last_seen_at = CASE WHEN s.last_seen_at < now() - interval '1 minute'
                        THEN now() ELSE s.last_seen_at END
FROM editors e
WHERE s.token_hash = $1 AND e.editor_id = s.editor_id AND e.disabled_at IS NULL
  AND s.expires_at > now() AND s.last_seen_at > now() - make_interval(secs => $2)
RETURNING s.session_id, s.csrf_token, s.expires_at, e.editor_id, e.email, e.name, e.role,
          e.timezone, e.must_change_password;

-- name: delete_session
DELETE FROM editor_sessions WHERE token_hash = $1;

-- name: delete_editor_sessions
DELETE FROM editor_sessions WHERE editor_id = $1;

-- name: purge_sessions
-- Expired and idle sessions and old attempts go; runs on sign-in (indexed, small).
WITH gone AS (
    DELETE FROM editor_sessions
    WHERE expires_at < now() OR last_seen_at < now() - make_interval(secs => $1)
)
DELETE FROM editor_sign_in_attempts WHERE attempted_at < now() - interval '30 days';

-- name: recent_failures
-- Failed sign-ins in the window: from this IP (any account), and for this account since its
-- last success, from this IP and from every IP.
WITH account AS (
  SELECT a.ip FROM editor_sign_in_attempts a
  WHERE a.email_key = $2 AND NOT a.succeeded AND a.attempted_at > now() - make_interval(secs => $3)
    AND a.attempted_at > coalesce((SELECT max(b.attempted_at) FROM editor_sign_in_attempts b
                                   WHERE b.email_key = $2 AND b.succeeded), '-infinity')
)
SELECT
  (SELECT count(*) FROM editor_sign_in_attempts
   WHERE ip = $1 AND NOT succeeded AND attempted_at > now() - make_interval(secs => $3))
    AS by_ip,
  (SELECT count(*) FROM account WHERE ip = $1) AS by_account_ip,
  (SELECT count(*) FROM account) AS by_account;

-- name: record_attempt
INSERT INTO editor_sign_in_attempts (ip, email_key, succeeded) VALUES ($1, $2, $3);

-- name: lock_editor_roles
-- Serialises role and access changes, so two admins cannot remove each other at once.
SELECT pg_advisory_xact_lock(hashtext('mailer.editor_roles'));

-- name: other_enabled_admins
SELECT count(*) FROM editors
WHERE role = 'admin' AND disabled_at IS NULL AND editor_id <> $1;

-- name: get_editor_account
-- What the console's account page shows and changes (no password hash).
SELECT editor_id, email, name, role, disabled_at FROM editors WHERE editor_id = $1;
