-- Signup speed: a signup is one round trip, and commits no longer queue behind NOTIFYs.

-- Nobody LISTENs on mailer_events: readers of `events` poll by event_id. A NOTIFY in a
-- transaction takes a database-wide lock at commit and holds it through the WAL flush, so
-- every transaction that wrote an event committed one at a time (pgbench on the
-- development machine: 8,062 transactions/s plain, 1,582 with a NOTIFY).
DROP TRIGGER events_notify ON events;
DROP FUNCTION events_notify();

-- The whole signup decision of mailer.signup.sign_up in one call (one statement, so one
-- transaction: nothing half-written). The caller validated and normalised the input and
-- made the confirmation's id, nonce and token hash beforehand (the token needs the secret
-- key, which the database never sees); they are used only if a mail is due.
--
-- Concurrency: the upsert's row lock serialises signups of one address until commit, so
-- the notice slot read with it is exact (at most one mail per address per 10 minutes).
--
-- outcome: 'unknown_topics' (nothing written; unknown_topics lists them in the order
-- given), 'suppressed' (bounced or complained: nothing written), 'silent' (the row is
-- suppressed or erased), 'confirm' (a confirmation mail queued), 'notice' (active: an
-- "already subscribed" mail queued), 'throttled' (recorded, no mail: one went out less
-- than 10 minutes ago). Later changes: CREATE OR REPLACE in a new migration.
CREATE FUNCTION sign_up(
    p_email text,               -- as normalised by email-validator
    p_email_key text,           -- mailer.addresses.address_key
    p_email_hash bytea,         -- mailer.addresses.address_hash
    p_name text,
    p_locale text,
    p_source text,
    p_topics text[],            -- slugs; NULL: every public topic
    p_allow_hidden boolean,
    p_ip inet,
    p_user_agent text,
    p_consent_text text,
    p_consent_hash bytea,       -- SHA-256 of p_consent_text; NULL without a text
    p_confirmation_id bigint,   -- from the confirmations sequence
    p_nonce bytea,
    p_token_hash bytea,
    p_confirm_ttl_seconds double precision,
    OUT outcome text,
    OUT unknown_topics text[]
) LANGUAGE plpgsql AS $$
DECLARE
    v_topic_ids bigint[];
    v_slugs text[];
    v_id bigint;
    v_status text;
    v_created boolean;
    v_last_notice timestamptz;
    v_notice boolean;
BEGIN
    IF p_topics IS NULL THEN
        SELECT coalesce(array_agg(topic_id ORDER BY position, name), '{}'),
               coalesce(array_agg(slug ORDER BY position, name), '{}')
        INTO v_topic_ids, v_slugs
        FROM topics WHERE public;
    ELSE
        SELECT coalesce(array_agg(t.topic_id ORDER BY g.ord)
                            FILTER (WHERE t.topic_id IS NOT NULL), '{}'),
               array_agg(g.slug ORDER BY g.ord) FILTER (WHERE t.topic_id IS NULL)
        INTO v_topic_ids, unknown_topics
        FROM unnest(p_topics) WITH ORDINALITY AS g (slug, ord)
        LEFT JOIN topics t ON t.slug = g.slug AND (t.public OR p_allow_hidden);
        IF unknown_topics IS NOT NULL THEN
            outcome := 'unknown_topics';
            RETURN;
        END IF;
        v_slugs := p_topics;
    END IF;

    -- Bounced or complained: silence. (Erased people may opt in anew.)
    IF EXISTS (SELECT 1 FROM suppressions WHERE email_hash = p_email_hash AND reason <> 'erased')
    THEN
        outcome := 'suppressed';
        RETURN;
    END IF;

    -- A new row takes the notice slot at once; an existing one is locked as it was
    -- (DO UPDATE touches only updated_at), so status and last_notice_at are its own.
    INSERT INTO subscribers AS s (email, email_key, name, locale, source, status, last_notice_at)
    VALUES (p_email, p_email_key, p_name, p_locale, p_source, 'pending', now())
    ON CONFLICT (email_key) DO UPDATE SET updated_at = now()
    RETURNING s.subscriber_id, s.status, s.xmax = 0, s.last_notice_at
    INTO v_id, v_status, v_created, v_last_notice;
    v_notice := v_created OR v_last_notice IS NULL
                OR v_last_notice < now() - interval '10 minutes';

    IF v_status IN ('suppressed', 'erased') THEN
        outcome := 'silent';
        RETURN;
    END IF;

    IF v_status = 'active' THEN
        IF NOT v_notice THEN
            outcome := 'throttled';
            RETURN;
        END IF;
        UPDATE subscribers SET last_notice_at = now() WHERE subscriber_id = v_id;
        INSERT INTO deliveries (subscriber_id, kind, recipient)
        VALUES (v_id, 'already_subscribed', p_email);
        outcome := 'notice';
        RETURN;
    END IF;

    IF NOT v_created THEN
        -- A pending or unsubscribed address starts (again) at pending, with its new details.
        UPDATE subscribers
        SET status = 'pending', name = coalesce(p_name, name), locale = coalesce(p_locale, locale),
            source = coalesce(p_source, source),
            last_notice_at = CASE WHEN v_notice THEN now() ELSE last_notice_at END
        WHERE subscriber_id = v_id;
        DELETE FROM subscriber_topics WHERE subscriber_id = v_id;
    END IF;
    INSERT INTO subscriber_topics (subscriber_id, topic_id)
    SELECT v_id, unnest(v_topic_ids) ON CONFLICT DO NOTHING;

    -- The consent ledger; the wording is stored once, by its SHA-256.
    IF p_consent_hash IS NOT NULL THEN
        INSERT INTO consent_texts (text_hash, text) VALUES (p_consent_hash, p_consent_text)
        ON CONFLICT (text_hash) DO NOTHING;
    END IF;
    INSERT INTO consent_events
        (subscriber_id, email_hash, action, ip, user_agent, source, topics, consent_text_hash)
    VALUES (v_id, p_email_hash,
            CASE WHEN v_status = 'unsubscribed' THEN 'resubscribe' ELSE 'signup' END,
            p_ip, p_user_agent, p_source, v_slugs, p_consent_hash);

    IF v_created OR v_status = 'unsubscribed' THEN
        INSERT INTO events (type, subject, subject_id, payload)
        VALUES ('subscriber.pending', 'subscriber', v_id, jsonb_build_object('topics', v_slugs));
    END IF;

    IF NOT v_notice THEN
        outcome := 'throttled';
        RETURN;
    END IF;
    INSERT INTO confirmations (confirmation_id, subscriber_id, nonce, token_hash, expires_at)
    VALUES (p_confirmation_id, v_id, p_nonce, p_token_hash,
            now() + make_interval(secs => p_confirm_ttl_seconds));
    -- The queue holds the nonce, not the token: the worker derives the link with the key.
    INSERT INTO deliveries (subscriber_id, kind, recipient, payload)
    VALUES (v_id, 'confirm', p_email,
            jsonb_build_object('confirmation_id', p_confirmation_id,
                               'nonce', encode(p_nonce, 'hex')));
    outcome := 'confirm';
END $$;
