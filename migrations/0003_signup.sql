-- Signups with double opt-in: topics, subscribers' choices, confirmations, consent ledger.

CREATE TABLE topics (
    topic_id    bigserial PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description text NOT NULL DEFAULT '',
    public      boolean NOT NULL DEFAULT true,   -- hidden topics: only by signed webhook or editors
    position    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE subscriber_topics (
    subscriber_id bigint NOT NULL REFERENCES subscribers ON DELETE CASCADE,
    topic_id      bigint NOT NULL REFERENCES topics ON DELETE CASCADE,
    PRIMARY KEY (subscriber_id, topic_id)
);

CREATE INDEX subscriber_topics_topic_idx ON subscriber_topics (topic_id, subscriber_id);

ALTER TABLE subscribers
    ADD COLUMN source text,
    -- Throttles confirmation and "already subscribed" mails: one per address per 10 minutes.
    ADD COLUMN last_notice_at timestamptz;

-- Confirmation links. The token is derived with the secret key from (id, nonce) and only
-- its SHA-256 is kept here: neither a database reader nor a key holder alone can make one.
CREATE TABLE confirmations (
    confirmation_id bigserial PRIMARY KEY,
    subscriber_id   bigint NOT NULL REFERENCES subscribers ON DELETE CASCADE,
    nonce           bytea NOT NULL,
    token_hash      bytea NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz
);

CREATE INDEX confirmations_subscriber_idx ON confirmations (subscriber_id);

-- Each distinct consent wording, stored once and referenced by its hash.
CREATE TABLE consent_texts (
    text_hash  bytea PRIMARY KEY,
    text       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The consent ledger: append-only proof of every consent decision.
CREATE TABLE consent_events (
    consent_event_id bigserial PRIMARY KEY,
    subscriber_id    bigint REFERENCES subscribers ON DELETE SET NULL,
    email_hash       bytea NOT NULL,   -- kept when a purged or erased subscriber row is gone
    action           text NOT NULL CHECK (action IN
                     ('signup', 'confirm', 'preferences', 'unsubscribe', 'resubscribe',
                      'import', 'erase')),
    occurred_at      timestamptz NOT NULL DEFAULT now(),
    ip               inet,
    user_agent       text,
    source           text,
    topics           text[],           -- topic slugs chosen at that moment
    consent_text_hash bytea REFERENCES consent_texts,
    detail           jsonb
);

CREATE INDEX consent_events_subscriber_idx ON consent_events (subscriber_id, consent_event_id);
CREATE INDEX consent_events_email_idx ON consent_events (email_hash);

CREATE FUNCTION consent_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Erasure may unlink a row from its subscriber and blank the personal fields (IP, user
    -- agent); the decision itself (what, when, which wording) never changes.
    IF TG_OP = 'UPDATE'
       AND (NEW.subscriber_id IS NULL OR NEW.subscriber_id = OLD.subscriber_id)
       AND (NEW.ip IS NULL OR NEW.ip = OLD.ip)
       AND (NEW.user_agent IS NULL OR NEW.user_agent = OLD.user_agent)
       AND (to_jsonb(NEW) - ARRAY['subscriber_id', 'ip', 'user_agent'])
           = (to_jsonb(OLD) - ARRAY['subscriber_id', 'ip', 'user_agent']) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'consent_events is append-only';
END $$;

CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events
    FOR EACH ROW EXECUTE FUNCTION consent_events_append_only();
