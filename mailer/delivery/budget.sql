-- The shared send-rate token bucket (MAILER_SEND_RATE), one row for every worker.

-- name: ensure_budget
INSERT INTO send_budget (budget_id, tokens) VALUES ('global', 0)
ON CONFLICT (budget_id) DO NOTHING;

-- name: take_tokens
-- Refill by the time elapsed at $2 tokens per second (holding at most one second's worth,
-- so no worker can burst), then grant up to $1 whole tokens.
WITH current AS (
    SELECT least(greatest($2::float8, 1.0),
                 tokens + $2::float8 * extract(epoch FROM clock_timestamp() - refilled_at))
               AS available
    FROM send_budget WHERE budget_id = 'global'
    FOR UPDATE
), grant_ AS (
    SELECT available, least(floor(available)::int, $1::int) AS granted FROM current
)
UPDATE send_budget
SET tokens = grant_.available - grant_.granted, refilled_at = clock_timestamp()
FROM grant_
WHERE budget_id = 'global'
RETURNING grant_.granted, grant_.available;

-- name: return_tokens
UPDATE send_budget SET tokens = least(greatest($2::float8, 1.0), tokens + $1)
WHERE budget_id = 'global';
