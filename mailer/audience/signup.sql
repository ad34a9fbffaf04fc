-- Signup with double opt-in, confirmation, and the purge of what never got confirmed.

-- name: sign_up
-- A batch of signups in one statement (the function of migration 0008).
SELECT n, outcome, unknown_topics FROM sign_up($1::signup_request[], $2);

-- name: next_confirmation_ids
-- A block of confirmation ids, so that a signup needs no round trip of its own for one.
SELECT nextval(pg_get_serial_sequence('confirmations', 'confirmation_id'))
FROM generate_series(1, $1);

-- name: add_topics
INSERT INTO subscriber_topics (subscriber_id, topic_id)
SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING;

-- name: take_notice_slot
-- At most one confirmation (or "already subscribed") mail per address per 10 minutes.
UPDATE subscribers SET last_notice_at = now()
WHERE subscriber_id = $1
  AND (last_notice_at IS NULL OR last_notice_at < now() - interval '10 minutes')
RETURNING subscriber_id;

-- name: next_confirmation_id
SELECT nextval(pg_get_serial_sequence('confirmations', 'confirmation_id'));

-- name: create_confirmation
INSERT INTO confirmations (confirmation_id, subscriber_id, nonce, token_hash, expires_at)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5));

-- name: find_confirmation
-- The confirmation a token names, with its subscriber, locked for the decision.
-- `superseded`: the person unsubscribed after this link was sent, so it confirms nothing.
SELECT c.confirmation_id, c.subscriber_id, c.expires_at, c.used_at,
       c.expires_at <= now() AS expired,
       s.status = 'unsubscribed' AND s.unsubscribed_at >= c.created_at AS superseded,
       s.status, s.email, s.name, s.key_version, s.locale
FROM confirmations c JOIN subscribers s USING (subscriber_id)
WHERE c.token_hash = $1
FOR UPDATE OF c, s;

-- name: use_confirmation
UPDATE confirmations SET used_at = now() WHERE confirmation_id = $1;

-- name: activate_subscriber
UPDATE subscribers
SET status = 'active', confirmed_at = now(), unsubscribed_at = NULL, updated_at = now()
WHERE subscriber_id = $1;

-- name: subscriber_topic_slugs
SELECT t.slug FROM subscriber_topics st JOIN topics t USING (topic_id)
WHERE st.subscriber_id = $1 ORDER BY t.position, t.name;

-- name: is_suppressed
SELECT reason FROM suppressions WHERE email_hash = $1;

-- name: purge_pending
-- Signups never confirmed within the window are removed (their consent events stay, by
-- hash); an unsubscribed address that asked again and never confirmed goes back to
-- unsubscribed.
WITH reverted AS (
    UPDATE subscribers SET status = 'unsubscribed', updated_at = now()
    WHERE status = 'pending' AND confirmed_at IS NOT NULL
      AND updated_at < now() - make_interval(days => $1)
    RETURNING subscriber_id
)
, gone AS (
    DELETE FROM subscribers
    WHERE status = 'pending' AND confirmed_at IS NULL
      AND updated_at < now() - make_interval(days => $1)
    RETURNING subscriber_id
), unlinked AS (
    UPDATE deliveries d SET subscriber_id = NULL, recipient = '', payload = NULL
    FROM gone WHERE d.subscriber_id = gone.subscriber_id
)
SELECT subscriber_id FROM gone;

-- name: lift_erasure
-- An erased address that signs up again and confirms is a new opt-in: it may be mailed.
DELETE FROM suppressions WHERE email_hash = $1 AND reason = 'erased';

-- name: notice_slot_wait
-- Seconds until the address may be mailed again (0 if it may now): said to a person whose
-- signup was throttled, so they know when trying again sends something.
SELECT greatest(0, extract(epoch FROM last_notice_at + interval '10 minutes' - now()))::float8
FROM subscribers WHERE email_key = $1;

-- name: subscribe_to_default_series
INSERT INTO subscriber_series (subscriber_id, series_id)
SELECT $1, series_id FROM series WHERE is_default AND active
ON CONFLICT DO NOTHING;

-- name: find_for_new_link
-- The subscriber a "mail me a new link" request names, if any (erased ones have no address).
SELECT subscriber_id, email, status FROM subscribers WHERE email_key = $1;
