-- Bounces and complaints (DSNs, ARF reports, provider webhooks), the suppression policy,
-- and outbound event webhooks.

-- Which mailing a bounce belongs to, so per-mailing bounce and complaint rates are an
-- index lookup and not a join through every delivery.
ALTER TABLE bounces ADD COLUMN mailing_id bigint;
CREATE INDEX bounces_mailing_idx ON bounces (mailing_id, kind) WHERE mailing_id IS NOT NULL;

-- Suppressions keep who they were about (when known) so editors can list them by address
-- without the table keeping one; lifting one is recorded on the subscriber, so soft
-- bounces from before the lift are not counted again.
ALTER TABLE suppressions ADD COLUMN subscriber_id bigint;
ALTER TABLE subscribers
    ADD COLUMN suppression_lifted_at timestamptz,
    ADD COLUMN suppressed_from text;              -- the status a lift gives back

-- Every report that reached us (SMTP or webhook), processed or not: an editor can read
-- what could not be parsed or matched; nothing is dropped. Deleting the subscriber
-- (erasure) deletes the reports about them, which carry their address.
CREATE TABLE bounce_reports (
    report_id     bigserial PRIMARY KEY,
    received_at   timestamptz NOT NULL DEFAULT now(),
    source        text NOT NULL,                -- smtp, webhook:generic, webhook:mailgun, ...
    kind          text NOT NULL CHECK (kind IN ('dsn', 'arf', 'event', 'unknown')),
    status        text NOT NULL
                  CHECK (status IN ('processed', 'ignored', 'unmatched', 'unparseable', 'refused')),
    envelope_from text,
    envelope_to   text,
    peer          text,
    delivery_id   bigint,
    subscriber_id bigint REFERENCES subscribers ON DELETE CASCADE,
    problem       text,                         -- why it was not acted upon
    summary       jsonb NOT NULL DEFAULT '{}'::jsonb,
    raw           bytea                         -- as received (capped), for a human to read
);

CREATE INDEX bounce_reports_status_idx ON bounce_reports (status, report_id);
CREATE INDEX bounce_reports_subscriber_idx ON bounce_reports (subscriber_id)
    WHERE subscriber_id IS NOT NULL;

-- Provider webhook deliveries already taken (Mailgun tokens, Postmark ids, signed bodies):
-- a replay is recognised and acts on nobody twice.
CREATE TABLE webhook_receipts (
    source      text NOT NULL,
    receipt_key text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, receipt_key)
);

-- The outbox's readers need a position that is never overtaken by a transaction still in
-- flight: event ids are taken at insert time but become visible at commit, in another
-- order. An event is passed on only once its transaction id is below that of every
-- transaction still running (events_horizon), and readers advance by (txid, event_id).
ALTER TABLE events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX events_txid_idx ON events (txid, event_id);

-- The position below which no event can still appear: the oldest transaction in flight,
-- leaving out those of other databases on the same server (they cannot write our events;
-- test clones and other applications would otherwise hold every reader back). A
-- transaction that ends between the snapshot and the look at pg_stat_activity is simply
-- kept (the horizon is then lower than it could be, never higher).
CREATE FUNCTION events_horizon() RETURNS xid8 LANGUAGE sql STABLE AS $$
    SELECT least(
        pg_snapshot_xmax(pg_current_snapshot()),
        (SELECT min(x) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
         WHERE (x::text::numeric % 4294967296)::bigint NOT IN (
             SELECT a.backend_xid::text::bigint FROM pg_stat_activity a
             WHERE a.backend_xid IS NOT NULL
               AND a.datid IS DISTINCT FROM (SELECT oid FROM pg_database
                                             WHERE datname = current_database()))))
$$;

-- Outbound webhook endpoints registered by admins.
CREATE TABLE hook_endpoints (
    endpoint_id     bigserial PRIMARY KEY,
    url             text NOT NULL,
    secret          text NOT NULL,               -- signs every request (Mailer-Signature)
    event_types     text[] NOT NULL,             -- 'subscriber.confirmed', 'digest.*', '*'
    description     text NOT NULL DEFAULT '',
    active          boolean NOT NULL DEFAULT true,
    -- Fan-out position in the outbox: events after it are still to be matched. A new
    -- endpoint starts at "now": every transaction not yet finished is still ahead of it.
    cursor_txid     xid8 NOT NULL DEFAULT events_horizon(),
    cursor_event_id bigint NOT NULL DEFAULT 0,
    -- One worker replica serves an endpoint at a time, under a lease.
    leased_by       text,
    lease_until     timestamptz,
    -- Consecutive rounds without a success: the endpoint is probed with one request,
    -- not flooded, until it answers again.
    failures        integer NOT NULL DEFAULT 0,
    blocked_until   timestamptz,
    last_success_at timestamptz,
    last_failure_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One row per endpoint per matching event: the delivery log.
CREATE TABLE hook_deliveries (
    hook_delivery_id bigserial PRIMARY KEY,
    endpoint_id      bigint NOT NULL REFERENCES hook_endpoints ON DELETE CASCADE,
    event_id         bigint NOT NULL,
    subject          text NOT NULL,
    subject_id       bigint,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    deadline_at      timestamptz NOT NULL,        -- retried until then (3 days by default)
    last_attempt_at  timestamptz,
    last_status      integer,                     -- HTTP status of the last attempt
    last_error       text,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_id)
);

-- The head of each subject's queue (per-subject order) is found from this index.
CREATE INDEX hook_deliveries_pending_idx
    ON hook_deliveries (endpoint_id, subject, subject_id, event_id) WHERE status = 'pending';
CREATE INDEX hook_deliveries_log_idx ON hook_deliveries (endpoint_id, hook_delivery_id DESC);
