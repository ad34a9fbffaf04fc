-- One-time nonces of the console forms that make a secret (migration 0016).

-- name: spend_nonce
-- Returns the hash when the nonce was fresh; nothing when it was spent before. Nonces
-- older than a week go on the way (a page left open that long is reloaded first).
WITH purged AS (
    DELETE FROM console_form_nonces WHERE used_at < now() - interval '7 days'
)
INSERT INTO console_form_nonces (nonce_hash, editor_id, done)
VALUES ($1, $2, $3)
ON CONFLICT (nonce_hash) DO NOTHING
RETURNING nonce_hash;

-- name: get_nonce
SELECT done FROM console_form_nonces WHERE nonce_hash = $1;
