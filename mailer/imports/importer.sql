-- Subscriber import: rows are COPYed into a session's temporary staging table a chunk at a
-- time and merged set-based, each chunk in one transaction with everything it causes
-- (subscribers, topics, series, suppressions, consent ledger, events, confirmations).

-- name: create_stage
-- One chunk of checked rows.
CREATE TEMP TABLE IF NOT EXISTS import_stage (
    line            bigint PRIMARY KEY,
    email           text NOT NULL,
    email_key       text NOT NULL,
    name            text,
    locale          text,
    intent          text NOT NULL,
    consent_at      timestamptz,
    created_at      timestamptz,
    unsubscribed_at timestamptz,
    ip              text,         -- checked already; cast where it is kept
    suppress_reason text,
    source          text,
    topics_given    boolean NOT NULL,
    topic_ids       bigint[] NOT NULL
);

-- name: create_plan
-- What the merge found and decided for each staged row.
CREATE TEMP TABLE IF NOT EXISTS import_plan (
    line            bigint PRIMARY KEY,
    email_hash      bytea NOT NULL, -- what suppressions keep: addresses.address_hash()
    subscriber_id   bigint,
    old_status      text,         -- the existing subscriber as it was, locked
    old_name        text,
    old_locale      text,
    confirmed_at    timestamptz,
    unsubscribed_at timestamptz,
    suppression     text,         -- the reason of a suppression of the address, if any
    action          text,         -- create, activate, update, unsubscribe, suppress, unchanged, skip
    new_status      text,
    reason          text,         -- why a row was skipped
    topics          text[]        -- the subscriber's topic slugs after the change
);

-- name: create_seen
-- Addresses earlier chunks of this import had: the first row of an address wins.
CREATE TEMP TABLE IF NOT EXISTS import_seen (email_key text PRIMARY KEY, line bigint NOT NULL);

-- name: reset_seen
TRUNCATE import_seen;

-- name: session_settings
-- Each statement handles a chunk of thousands of rows in well under a second: compiling it
-- with JIT first (PostgreSQL's default for costly plans) would take longer than running it.
SET jit = off;

-- name: discard_staging
-- Pooled connections are released without a reset: leave no temporary tables behind.
DISCARD TEMP;

-- name: reset_settings
RESET jit;

-- name: reset_chunk
TRUNCATE import_stage, import_plan;

-- name: analyze_stage
-- Temporary tables get no statistics from autovacuum; the merge's joins need them (the
-- row count, and the columns they join on: the others' statistics would cost as much).
ANALYZE import_stage (line, email_key);

-- name: drop_and_mark_seen
-- The staged rows whose address an earlier chunk had go (returned, with that chunk's line),
-- and the others' addresses are marked seen, in one pass. Both parts see the tables as they
-- were before the statement: the INSERT offers the dropped rows too, whose addresses are
-- there already (DO NOTHING), and the DELETE does not see the ones just inserted.
WITH dropped AS (
    DELETE FROM import_stage st USING import_seen seen
    WHERE seen.email_key = st.email_key
    RETURNING st.line, seen.line AS first_line
), marked AS (
    INSERT INTO import_seen (email_key, line)
    SELECT email_key, line FROM import_stage
    ON CONFLICT (email_key) DO NOTHING
)
SELECT line, first_line FROM dropped;

-- name: mark_seen
INSERT INTO import_seen (email_key, line)
SELECT * FROM unnest($1::text[], $2::bigint[])
ON CONFLICT (email_key) DO NOTHING;

-- name: find_existing
-- $1: 'consented' or 'opt_in'. Each staged address's subscriber, locked, any suppression of
-- it, and what happens to the row by the rules of the mode (new addresses are left to
-- 'create_new'). One index probe per row (LIMIT keeps the lookup a probe: a hash join
-- would read the whole subscribers table for every chunk); rows are locked in address
-- order, so that two imports of overlapping files wait for each other instead of
-- deadlocking, and nothing read here can change before the chunk commits. Deciding here,
-- as the rows are found, spares a second pass over the plan (an unchanged file writes
-- nothing else). Returns how many addresses are new.
WITH planned AS (
INSERT INTO import_plan (line, email_hash, subscriber_id, old_status, old_name, old_locale,
                         confirmed_at, unsubscribed_at, suppression, action, new_status, reason)
SELECT st.line, st.email_hash, s.subscriber_id, s.status, s.name, s.locale, s.confirmed_at,
       s.unsubscribed_at, p.reason,
       split_part(v.verdict, ':', 1),
       CASE split_part(v.verdict, ':', 1)
           WHEN 'activate' THEN 'active'
           WHEN 'unsubscribe' THEN 'unsubscribed'
           WHEN 'suppress' THEN 'suppressed'
           ELSE s.status
       END,
       nullif(split_part(v.verdict, ':', 2), '')
FROM (
    -- the SHA-256 of the UTF-8 address key, as addresses.address_hash() makes it
    SELECT line, email_key, sha256(convert_to(email_key, 'UTF8')) AS email_hash, intent, name,
           locale, consent_at, unsubscribed_at, topic_ids
    FROM import_stage ORDER BY email_key
) st
LEFT JOIN LATERAL (
    SELECT subscriber_id, status, name, locale, confirmed_at, unsubscribed_at
    FROM subscribers x WHERE x.email_key = st.email_key
    LIMIT 1 FOR UPDATE
) s ON true
LEFT JOIN LATERAL (
    SELECT reason FROM suppressions y WHERE y.email_hash = st.email_hash LIMIT 1
) p ON true
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN s.subscriber_id IS NULL AND p.reason IS NULL THEN NULL  -- new: create_new's
        WHEN p.reason = 'erased' OR s.status = 'erased' THEN 'skip:erased'
        WHEN s.subscriber_id IS NULL THEN  -- suppressed, and no subscriber
            CASE WHEN st.intent IN ('suppress', 'unsubscribe') THEN 'unchanged'
                 ELSE 'skip:suppressed' END
        WHEN st.intent = 'suppress' THEN
            CASE WHEN s.status = 'suppressed' THEN 'unchanged' ELSE 'suppress' END
        WHEN s.status = 'suppressed' OR p.reason IS NOT NULL THEN
            CASE WHEN st.intent = 'unsubscribe' THEN 'unchanged' ELSE 'skip:suppressed' END
        WHEN st.intent = 'unsubscribe' THEN
            CASE WHEN s.status = 'unsubscribed' THEN 'unchanged'
                 WHEN st.unsubscribed_at < s.confirmed_at THEN 'skip:resubscribed'
                 ELSE 'unsubscribe' END
        WHEN s.status = 'unsubscribed' THEN
            CASE WHEN $1 = 'consented'
                      AND st.consent_at > coalesce(s.unsubscribed_at, '-infinity')
                 THEN 'activate'
                 ELSE 'skip:unsubscribed' END
        WHEN s.status = 'pending' AND $1 = 'consented' THEN 'activate'
        WHEN (st.name IS NOT NULL AND st.name IS DISTINCT FROM s.name)
          OR (st.locale IS NOT NULL AND st.locale IS DISTINCT FROM s.locale)
          OR EXISTS (
                 SELECT 1 FROM unnest(st.topic_ids) t(topic_id)
                 WHERE NOT EXISTS (
                     SELECT 1 FROM subscriber_topics x
                     WHERE x.subscriber_id = s.subscriber_id AND x.topic_id = t.topic_id))
            THEN 'update'
        ELSE 'unchanged'
    END AS verdict
    OFFSET 0  -- not inlined: the verdict is used three times above, its EXISTS run once
) v
RETURNING action
)
-- The new addresses, left to create_new (none: it and 'decide' have nothing to do).
SELECT count(*) FILTER (WHERE action IS NULL) FROM planned;

-- name: create_new
-- $1: 'consented' or 'opt_in', $2: the public topics' ids. Addresses not known (and never
-- suppressed or erased) become subscribers in the state the mode and the row ask for. ON
-- CONFLICT leaves alone a row a concurrent signup inserted meanwhile: it gets no action
-- here, and 'decide' skips it as 'concurrent' (running the import again picks it up).
WITH created AS (
    INSERT INTO subscribers (email, email_key, name, locale, status, source, created_at,
                             confirmed_at, unsubscribed_at)
    SELECT email, email_key, name, locale, status, source,
           least(coalesce(created_at, now()), now()),
           -- an unsubscribed or suppressed row keeps the consent it once gave; a pending
           -- one has none (the purge of unconfirmed signups relies on that)
           CASE status WHEN 'active' THEN coalesce(consent_at, now())
                       WHEN 'pending' THEN NULL
                       ELSE consent_at END,
           CASE WHEN status = 'unsubscribed' THEN coalesce(unsubscribed_at, now()) END
    FROM (
        SELECT st.*,
               CASE st.intent
                   WHEN 'subscribe' THEN CASE WHEN $1 = 'consented' THEN 'active'
                                              ELSE 'pending' END
                   WHEN 'pending' THEN 'pending'
                   WHEN 'unsubscribe' THEN 'unsubscribed'
                   ELSE 'suppressed'
               END AS status
        FROM import_plan pl JOIN import_stage st USING (line)
        WHERE pl.subscriber_id IS NULL AND pl.suppression IS NULL
    ) fresh
    ORDER BY email_key
    ON CONFLICT (email_key) DO NOTHING
    RETURNING subscriber_id, email_key, status
)
-- Their topics are the ones add_topics gives them ($2 when the row names none), by slug.
UPDATE import_plan pl
SET subscriber_id = c.subscriber_id, action = 'create', new_status = c.status,
    topics = ARRAY(SELECT t.slug FROM topics t
                   WHERE t.topic_id = ANY(CASE WHEN st.topics_given THEN st.topic_ids
                                               ELSE $2::bigint[] END)
                   ORDER BY t.slug)
FROM created c JOIN import_stage st USING (email_key)
WHERE pl.line = st.line;

-- name: decide
-- A new address that create_new did not insert: a concurrent signup did, meanwhile.
UPDATE import_plan SET action = 'skip', reason = 'concurrent' WHERE action IS NULL;

-- name: apply_changes
-- Existing subscribers take the row's details and their new state.
UPDATE subscribers s
SET status = pl.new_status,
    name = CASE WHEN pl.action IN ('activate', 'update') THEN coalesce(st.name, s.name)
                ELSE s.name END,
    locale = CASE WHEN pl.action IN ('activate', 'update') THEN coalesce(st.locale, s.locale)
                  ELSE s.locale END,
    confirmed_at = CASE WHEN pl.action = 'activate' THEN coalesce(st.consent_at, now())
                        ELSE s.confirmed_at END,
    unsubscribed_at = CASE WHEN pl.action = 'unsubscribe' THEN coalesce(st.unsubscribed_at, now())
                           WHEN pl.action = 'activate' THEN NULL
                           ELSE s.unsubscribed_at END,
    -- as a bounce suppresses: the status that lifting the suppression gives back
    suppressed_from = CASE WHEN pl.action = 'suppress' THEN pl.old_status
                           ELSE s.suppressed_from END,
    updated_at = now()
FROM import_plan pl JOIN import_stage st USING (line)
WHERE s.subscriber_id = pl.subscriber_id
  AND pl.action IN ('activate', 'update', 'unsubscribe', 'suppress');

-- name: add_topics
-- Topics are only ever added; a new subscriber whose row says nothing about topics gets
-- $1 (every public topic), as a signup without topics does. A subscriber created in this
-- transaction has no topics yet and its row's ids are distinct: no conflict to look for.
WITH fresh AS (
    INSERT INTO subscriber_topics (subscriber_id, topic_id)
    SELECT pl.subscriber_id, t.topic_id
    FROM import_plan pl JOIN import_stage st USING (line)
    CROSS JOIN LATERAL unnest(CASE WHEN st.topics_given THEN st.topic_ids
                                   ELSE $1::bigint[] END) t(topic_id)
    WHERE pl.action = 'create'
)
INSERT INTO subscriber_topics (subscriber_id, topic_id)
SELECT pl.subscriber_id, t.topic_id
FROM import_plan pl JOIN import_stage st USING (line)
CROSS JOIN LATERAL unnest(st.topic_ids) t(topic_id)
WHERE pl.action IN ('activate', 'update')
ON CONFLICT DO NOTHING;

-- name: note_topics
-- The topic slugs of each changed subscriber, for the consent ledger and the events (one
-- index probe each, whatever the size of subscriber_topics); create_new noted new ones'.
UPDATE import_plan pl
SET topics = ARRAY(SELECT t.slug FROM subscriber_topics x JOIN topics t USING (topic_id)
                   WHERE x.subscriber_id = pl.subscriber_id ORDER BY t.slug)
WHERE pl.action IN ('activate', 'update', 'unsubscribe', 'suppress');

-- name: add_default_series
-- New active subscribers receive the default digest series, as confirming gives them (one
-- created in this transaction has none yet: no conflict to look for).
WITH fresh AS (
    INSERT INTO subscriber_series (subscriber_id, series_id)
    SELECT pl.subscriber_id, se.series_id
    FROM import_plan pl CROSS JOIN series se
    WHERE se.is_default AND se.active AND pl.new_status = 'active' AND pl.action = 'create'
)
INSERT INTO subscriber_series (subscriber_id, series_id)
SELECT pl.subscriber_id, se.series_id
FROM import_plan pl CROSS JOIN series se
WHERE se.is_default AND se.active AND pl.new_status = 'active' AND pl.action = 'activate'
ON CONFLICT DO NOTHING;

-- name: add_suppressions
INSERT INTO suppressions (email_hash, reason, detail, subscriber_id)
SELECT pl.email_hash, st.suppress_reason, $1, pl.subscriber_id
FROM import_plan pl JOIN import_stage st USING (line)
WHERE st.intent = 'suppress' AND pl.action IN ('create', 'suppress', 'unchanged')
ON CONFLICT (email_hash) DO NOTHING;

-- name: add_consent_events
-- The ledger: an 'import' entry per subscriber the import created, activated or changed,
-- at the consent time the file gives (its proof is the source note, $1), or an
-- 'unsubscribe' entry at the file's unsubscribe time.
INSERT INTO consent_events (subscriber_id, email_hash, action, occurred_at, ip, source, topics,
                            consent_text_hash, detail)
SELECT pl.subscriber_id, pl.email_hash,
       CASE WHEN pl.new_status = 'unsubscribed' THEN 'unsubscribe' ELSE 'import' END,
       CASE WHEN pl.new_status = 'unsubscribed' THEN coalesce(st.unsubscribed_at, now())
            WHEN pl.new_status = 'active' AND pl.action IN ('create', 'activate')
                THEN coalesce(st.consent_at, now())
            ELSE now() END,
       st.ip::inet, $1, pl.topics, $2,
       jsonb_build_object('import_id', $3::bigint, 'line', st.line, 'mode', $4::text,
                          'status', pl.new_status)
       || CASE WHEN st.source IS NULL THEN '{}'::jsonb
               ELSE jsonb_build_object('row_source', st.source) END
FROM import_plan pl JOIN import_stage st USING (line)
WHERE pl.action IN ('create', 'activate', 'update', 'unsubscribe')
  AND pl.new_status <> 'suppressed'
ORDER BY pl.line;

-- name: add_events
-- One outbox event per changed subscriber, as signups and confirmations write them.
INSERT INTO events (type, subject, subject_id, payload)
SELECT CASE WHEN pl.action = 'update' THEN 'subscriber.updated'
            WHEN pl.new_status = 'active' THEN 'subscriber.confirmed'
            ELSE 'subscriber.' || pl.new_status END,
       'subscriber', pl.subscriber_id,
       jsonb_build_object('via', 'import', 'import_id', $1::bigint,
                          'created', pl.action = 'create', 'topics', pl.topics)
FROM import_plan pl
WHERE pl.action IN ('create', 'activate', 'update', 'unsubscribe', 'suppress')
ORDER BY pl.line;

-- name: chunk_outcomes
SELECT action, coalesce(reason, new_status, '') AS detail, count(*)::int AS n
FROM import_plan GROUP BY 1, 2;

-- name: skipped_lines
SELECT line, reason FROM import_plan WHERE action = 'skip' ORDER BY line;

-- name: new_pending
-- Subscribers the opt-in import created: each gets a confirmation request.
SELECT pl.subscriber_id, st.email
FROM import_plan pl JOIN import_stage st USING (line)
WHERE pl.action = 'create' AND pl.new_status = 'pending'
ORDER BY pl.line;

-- name: confirmation_pace_start
-- Import confirmations are spread out after what transactional mail is queued already.
SELECT greatest(now(), max(next_attempt_at)) FROM deliveries
WHERE mailing_id IS NULL AND status IN ('queued', 'deferred');

-- name: insert_confirmations
-- A link lives for the TTL from when its mail is due, not from the import.
INSERT INTO confirmations (confirmation_id, subscriber_id, nonce, token_hash, expires_at)
SELECT c.confirmation_id, c.subscriber_id, c.nonce, c.token_hash,
       c.due + make_interval(secs => $6)
FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[], $5::timestamptz[])
     AS c(confirmation_id, subscriber_id, nonce, token_hash, due);

-- name: enqueue_confirmations
-- Paced through next_attempt_at so that a website signup's confirmation never waits behind
-- an import's; created_at is the due time too, since retries are bounded by a delivery's age.
INSERT INTO deliveries (subscriber_id, kind, recipient, payload, next_attempt_at, created_at)
SELECT d.subscriber_id, 'confirm', d.recipient, d.payload, d.due, d.due
FROM unnest($1::bigint[], $2::text[], $3::jsonb[], $4::timestamptz[])
     AS d(subscriber_id, recipient, payload, due);

-- name: mark_noticed
-- The signup path mails an address at most once per 10 minutes: this counts as that mail.
UPDATE subscribers SET last_notice_at = now() WHERE subscriber_id = ANY($1::bigint[]);

-- name: lookup_topics
SELECT topic_id, slug, name, public FROM topics;

-- name: create_topic
INSERT INTO topics (slug, name, public) VALUES ($1, $2, false)
ON CONFLICT (slug) DO NOTHING
RETURNING topic_id;

-- name: topic_by_slug
SELECT topic_id FROM topics WHERE slug = $1;
