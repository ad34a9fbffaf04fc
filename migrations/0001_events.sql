-- The transactional outbox: every state change writes one row here, in the same
-- transaction as the change. Outbound webhooks and other readers follow event_id.
CREATE TABLE events (
    event_id    bigserial PRIMARY KEY,
    type        text NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$'),
    -- What the event is about, e.g. ('subscriber', 42); lets readers keep per-subject order.
    subject     text NOT NULL,
    subject_id  bigint,
    payload     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX events_subject_idx ON events (subject, subject_id, event_id);

-- Wake whoever listens, without polling; the payload is only the id.
CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mailer_events', NEW.event_id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_notify();
