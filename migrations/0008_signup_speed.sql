-- Signup speed: signups are written in batches, one statement (one transaction, one
-- commit) per batch, and commits no longer queue behind NOTIFYs.

-- Nobody LISTENs on mailer_events: readers of `events` poll by event_id. A NOTIFY in a
-- transaction takes a database-wide lock at commit and holds it through the WAL flush, so
-- every transaction that wrote an event committed one at a time (pgbench on the
-- development machine: 8,062 transactions/s plain, 1,582 with a NOTIFY).
DROP TRIGGER events_notify ON events;
DROP FUNCTION events_notify();

-- One signup as mailer.signup prepares it: validated and normalised, with the confirmation
-- id, nonce and token hash made beforehand (the token needs the secret key, which the
-- database never sees); they are used only if a confirmation mail is due.
CREATE TYPE signup_request AS (
    email text, email_key text, email_hash bytea, name text, locale text, source text,
    topics text[], allow_hidden boolean, ip inet, user_agent text,
    consent_text text, consent_hash bytea,
    confirmation_id bigint, nonce bytea, token_hash bytea,
    alerts boolean    -- accepts urgent alerts (subscribers.accepts_alerts, migration 0012)
);
-- What sign_up decided for one signup of a batch (internal to it).
CREATE TYPE signup_step AS (
    n integer, outcome text, unknown_topics text[], opt_in boolean,
    subscriber_id bigint, prior_status text, prior_alerts boolean, topic_ids bigint[],
    slugs text[], r signup_request
);

-- The whole decision of mailer.signup for a batch of signups of distinct addresses
-- (email_key), in one statement: nothing half-written, and one commit for all of them.
-- Per address, exactly as one at a time: the upsert locks each subscriber row (in
-- email_key order, so concurrent batches cannot deadlock on them) until commit, and the
-- notice slot is read under that lock: at most one mail per address per 10 minutes.
--
-- Returns one row per signup, n being its position (1-based), with outcome:
-- 'unknown_topics' (nothing written for it; unknown_topics lists them in the order given),
-- 'suppressed' (the address bounced or complained: nothing written), 'silent' (the
-- subscriber is suppressed or erased), 'confirm' (pending; a confirmation mail queued),
-- 'notice' (active: an "already subscribed" mail queued), 'throttled' (recorded, no
-- mail: one went out less than 10 minutes ago). Later changes: CREATE OR REPLACE in a
-- new migration. (subscribers.accepts_alerts comes with migration 0012, which may be
-- applied before or after this one; the function body is only resolved when it runs.)
CREATE FUNCTION sign_up(p signup_request[], p_confirm_ttl_seconds float8)
RETURNS TABLE (n integer, outcome text, unknown_topics text[])
LANGUAGE plpgsql AS $$
DECLARE
    steps signup_step[];
BEGIN
    WITH req AS (
        SELECT i AS n, p[i] AS r FROM generate_subscripts(p, 1) AS i
    ), public_topics AS (
        SELECT coalesce(array_agg(topic_id ORDER BY position, name), '{}') AS ids,
               coalesce(array_agg(slug ORDER BY position, name), '{}') AS slugs
        FROM topics WHERE public
    ), chosen AS (
        SELECT req.n, req.r,
               coalesce(named.ids, pt.ids) AS topic_ids,
               coalesce((req.r).topics, pt.slugs) AS slugs,
               named.unknown,
               EXISTS (SELECT FROM suppressions s WHERE s.email_hash = (req.r).email_hash
                       AND s.reason <> 'erased') AS suppressed
        FROM req CROSS JOIN public_topics pt
        LEFT JOIN LATERAL (
            SELECT coalesce(array_agg(t.topic_id ORDER BY u.i)
                                FILTER (WHERE t.topic_id IS NOT NULL), '{}') AS ids,
                   array_agg(u.slug ORDER BY u.i) FILTER (WHERE t.topic_id IS NULL) AS unknown
            FROM unnest((req.r).topics) WITH ORDINALITY AS u (slug, i)
            LEFT JOIN topics t ON t.slug = u.slug AND (t.public OR (req.r).allow_hidden)
        ) named ON (req.r).topics IS NOT NULL
    ), up AS (
        INSERT INTO subscribers AS s
            (email, email_key, name, locale, source, status, last_notice_at, accepts_alerts)
        SELECT (c.r).email, (c.r).email_key, (c.r).name, (c.r).locale, (c.r).source, 'pending',
               now(), (c.r).alerts
        FROM chosen c
        WHERE c.unknown IS NULL AND NOT c.suppressed
        ORDER BY (c.r).email_key
        ON CONFLICT (email_key) DO UPDATE SET updated_at = now()
        RETURNING s.subscriber_id, s.email_key, s.status, s.xmax = 0 AS created, s.last_notice_at,
                  s.accepts_alerts
    ), decided AS (
        SELECT c.n, c.r, c.unknown, c.topic_ids, c.slugs, up.subscriber_id,
               CASE WHEN NOT up.created THEN up.status END AS prior_status,
               up.accepts_alerts AS prior_alerts,
               CASE WHEN c.unknown IS NOT NULL THEN 'unknown_topics'
                    WHEN c.suppressed THEN 'suppressed'
                    WHEN up.status IN ('suppressed', 'erased') THEN 'silent'
                    WHEN NOT (up.created OR up.last_notice_at IS NULL
                              OR up.last_notice_at < now() - interval '10 minutes') THEN 'throttled'
                    WHEN up.status = 'active' AND NOT up.created THEN 'notice'
                    ELSE 'confirm' END AS outcome,
               up.subscriber_id IS NOT NULL
                   AND (up.created OR up.status IN ('pending', 'unsubscribed')) AS opt_in
        FROM chosen c LEFT JOIN up ON up.email_key = (c.r).email_key
    )
    SELECT array_agg(ROW(d.n, d.outcome, d.unknown, d.opt_in, d.subscriber_id, d.prior_status,
                         d.prior_alerts, d.topic_ids, d.slugs, d.r)::signup_step ORDER BY d.n)
    INTO steps FROM decided d;

    IF EXISTS (SELECT FROM unnest(steps) x WHERE x.subscriber_id IS NOT NULL
               AND x.prior_status IS NOT NULL) THEN
        -- Addresses we knew: an opt-in starts again at pending with the new details;
        -- the notice slot is taken when a mail goes out.
        UPDATE subscribers s
        SET status = CASE WHEN x.opt_in THEN 'pending' ELSE s.status END,
            name = CASE WHEN x.opt_in THEN coalesce((x.r).name, s.name) ELSE s.name END,
            locale = CASE WHEN x.opt_in THEN coalesce((x.r).locale, s.locale) ELSE s.locale END,
            source = CASE WHEN x.opt_in THEN coalesce((x.r).source, s.source) ELSE s.source END,
            last_notice_at = CASE WHEN x.outcome IN ('confirm', 'notice') THEN now()
                                  ELSE s.last_notice_at END,
            accepts_alerts = CASE WHEN x.opt_in THEN (x.r).alerts ELSE s.accepts_alerts END
        FROM unnest(steps) x
        WHERE s.subscriber_id = x.subscriber_id AND x.prior_status IS NOT NULL
          AND (x.opt_in OR x.outcome = 'notice');
        DELETE FROM subscriber_topics st USING unnest(steps) x
        WHERE st.subscriber_id = x.subscriber_id AND x.prior_status IS NOT NULL AND x.opt_in;
        -- Alerts turned off: those still queued for them are not sent (as set_alerts does).
        UPDATE deliveries d
        SET status = 'cancelled', finished_at = now(),
            last_reply = 'not sent: the subscriber turned alerts off'
        FROM unnest(steps) x
        WHERE d.subscriber_id = x.subscriber_id AND x.opt_in AND x.prior_status IS NOT NULL
          AND x.prior_alerts AND NOT (x.r).alerts
          AND d.kind = 'alert' AND d.status IN ('queued', 'deferred') AND d.mailing_id IS NOT NULL;
    END IF;

    WITH x AS (
        SELECT * FROM unnest(steps) WHERE opt_in
    ), topics_ AS (
        INSERT INTO subscriber_topics (subscriber_id, topic_id)
        SELECT x.subscriber_id, unnest(x.topic_ids) FROM x ON CONFLICT DO NOTHING
    ), texts AS (
        INSERT INTO consent_texts (text_hash, text)
        SELECT DISTINCT ON ((x.r).consent_hash) (x.r).consent_hash, (x.r).consent_text FROM x
        WHERE (x.r).consent_hash IS NOT NULL
        ON CONFLICT (text_hash) DO NOTHING
    ), ledger AS (
        INSERT INTO consent_events
            (subscriber_id, email_hash, action, ip, user_agent, source, topics,
             consent_text_hash, detail)
        SELECT x.subscriber_id, (x.r).email_hash,
               CASE WHEN x.prior_status = 'unsubscribed' THEN 'resubscribe' ELSE 'signup' END,
               (x.r).ip, (x.r).user_agent, (x.r).source, x.slugs, (x.r).consent_hash,
               CASE WHEN (x.r).alerts THEN jsonb_build_object('alerts', true) END
        FROM x ORDER BY x.n
    ), events_ AS (
        INSERT INTO events (type, subject, subject_id, payload)
        SELECT 'subscriber.pending', 'subscriber', x.subscriber_id,
               jsonb_build_object('topics', x.slugs)
        FROM x WHERE x.prior_status IS DISTINCT FROM 'pending' ORDER BY x.n
    ), confirmations_ AS (
        INSERT INTO confirmations (confirmation_id, subscriber_id, nonce, token_hash, expires_at)
        SELECT (x.r).confirmation_id, x.subscriber_id, (x.r).nonce, (x.r).token_hash,
               now() + make_interval(secs => p_confirm_ttl_seconds)
        FROM x WHERE x.outcome = 'confirm'
    )
    INSERT INTO deliveries (subscriber_id, kind, recipient, payload)
    SELECT y.subscriber_id,
           CASE WHEN y.outcome = 'confirm' THEN 'confirm' ELSE 'already_subscribed' END,
           (y.r).email,
           CASE WHEN y.outcome = 'confirm' THEN jsonb_build_object(
               'confirmation_id', (y.r).confirmation_id, 'nonce', encode((y.r).nonce, 'hex')) END
    FROM unnest(steps) y WHERE y.outcome IN ('confirm', 'notice') ORDER BY y.n;

    RETURN QUERY SELECT x.n, x.outcome, x.unknown_topics FROM unnest(steps) x;
END $$;
