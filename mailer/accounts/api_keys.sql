-- Editor API keys (only their SHA-256 is stored).

-- name: create_api_key
INSERT INTO api_keys (name, key_hash, role) VALUES ($1, $2, $3) RETURNING api_key_id;

-- name: find_api_key
-- The key's id if it is known and not revoked; touches last_used_at at most once a minute.
UPDATE api_keys
SET last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < now() - interval '1 minute'
                        THEN now() ELSE last_used_at END
WHERE key_hash = $1 AND revoked_at IS NULL
RETURNING api_key_id, name, role;

-- name: list_api_keys
SELECT api_key_id, name, role, created_at, last_used_at, revoked_at FROM api_keys ORDER BY api_key_id;

-- name: revoke_api_key
UPDATE api_keys SET revoked_at = now() WHERE api_key_id = $1 AND revoked_at IS NULL
RETURNING api_key_id;
