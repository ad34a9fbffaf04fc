-- The delivery engine: subscribers as the engine sees them, bulk mailings, and the
-- per-recipient queue (one row per recipient per message) that every mail goes through.

CREATE TABLE subscribers (
    subscriber_id   bigserial PRIMARY KEY,
    email           text NOT NULL,                 -- as given, normalised by email-validator
    email_key       text NOT NULL UNIQUE,          -- lower-cased: one subscriber per address
    name            text,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'active', 'unsubscribed', 'suppressed', 'erased')),
    locale          text,
    plain_text_only boolean NOT NULL DEFAULT false,
    paused_until    timestamptz,                   -- no bulk mail before this time
    key_version     integer NOT NULL DEFAULT 1,    -- bumping it revokes every personal link
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    confirmed_at    timestamptz,
    unsubscribed_at timestamptz
);

CREATE INDEX subscribers_status_idx ON subscribers (status);

-- Addresses that must never be mailed again, kept as a hash so that an erased address
-- leaves nothing personal behind yet is still recognised on a later signup or import.
CREATE TABLE suppressions (
    email_hash  bytea PRIMARY KEY,                 -- sha256 of the lower-cased address
    reason      text NOT NULL
                CHECK (reason IN ('hard_bounce', 'soft_bounce', 'complaint', 'erased', 'manual')),
    detail      text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One bulk message (a digest, an alert, a correction) sent to many recipients.
CREATE TABLE mailings (
    mailing_id   bigserial PRIMARY KEY,
    kind         text NOT NULL CHECK (kind ~ '^[a-z_]+$'),   -- also its template folder
    status       text NOT NULL DEFAULT 'draft'
                 CHECK (status IN ('draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled')),
    priority     smallint NOT NULL DEFAULT 20,   -- lower is claimed first (alerts before digests)
    subject      text NOT NULL,
    list_id      text NOT NULL,                  -- the List-Id stream, e.g. digest, alerts
    content      jsonb NOT NULL DEFAULT '{}'::jsonb,  -- the template's context
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz
);

CREATE INDEX mailings_sending_idx ON mailings (priority, mailing_id) WHERE status = 'sending';

CREATE TABLE deliveries (
    delivery_id     bigserial PRIMARY KEY,
    mailing_id      bigint REFERENCES mailings ON DELETE CASCADE,   -- NULL: transactional
    subscriber_id   bigint REFERENCES subscribers ON DELETE SET NULL,
    kind            text NOT NULL,                  -- template folder: confirm, digest, ...
    recipient       text NOT NULL,                  -- the address at enqueue time
    payload         jsonb,                          -- per-delivery template values
    item_ids        bigint[],                       -- the items this delivery carries
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sending', 'sent', 'deferred', 'failed',
                                      'suppressed', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_until   timestamptz,                    -- the lease of the worker sending it
    claimed_by      text,                           -- the worker holding (or last holding) it
    last_reply      text,                           -- the last SMTP reply or error
    message_id      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    finished_at     timestamptz,
    UNIQUE (mailing_id, subscriber_id)
);

-- What workers claim: due rows, per mailing (NULL = transactional), oldest first.
CREATE INDEX deliveries_due_idx ON deliveries (mailing_id, next_attempt_at)
    WHERE status IN ('queued', 'deferred');
-- Rows held by workers: lease expiry and "is this mailing finished?".
CREATE INDEX deliveries_sending_idx ON deliveries (mailing_id) WHERE status = 'sending';
CREATE INDEX deliveries_subscriber_idx ON deliveries (subscriber_id);

-- What the SMTP conversation or a later report told us about a delivery.
CREATE TABLE bounces (
    bounce_id     bigserial PRIMARY KEY,
    delivery_id   bigint REFERENCES deliveries ON DELETE SET NULL,
    subscriber_id bigint REFERENCES subscribers ON DELETE SET NULL,
    kind          text NOT NULL CHECK (kind IN ('hard', 'soft', 'block', 'complaint')),
    source        text NOT NULL,                  -- smtp, dsn, arf, webhook:<provider>
    detail        text,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX bounces_subscriber_idx ON bounces (subscriber_id, created_at);

-- The shared token bucket behind MAILER_SEND_RATE: one row, shared by every worker.
CREATE TABLE send_budget (
    budget_id   text PRIMARY KEY,
    tokens      double precision NOT NULL,
    refilled_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Editor API keys: only a hash is kept; the key is shown once.
CREATE TABLE api_keys (
    api_key_id  bigserial PRIMARY KEY,
    name        text NOT NULL,
    key_hash    bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at  timestamptz
);
