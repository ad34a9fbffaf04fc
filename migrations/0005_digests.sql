-- Digests: series with a recurring schedule, and the digests (mailings of kind 'digest')
-- assembled for them from the feed.

CREATE TABLE series (
    series_id    bigserial PRIMARY KEY,
    slug         text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description  text NOT NULL DEFAULT '',
    cron         text NOT NULL,                 -- minute hour day month weekday
    timezone     text NOT NULL,                 -- IANA name, e.g. America/New_York
    mode         text NOT NULL DEFAULT 'draft' CHECK (mode IN ('draft', 'auto')),
    is_default   boolean NOT NULL DEFAULT false, -- new subscribers receive it
    active       boolean NOT NULL DEFAULT true,
    next_run_at  timestamptz,                   -- the next occurrence, in UTC
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX series_due_idx ON series (next_run_at) WHERE active;

CREATE TABLE subscriber_series (
    subscriber_id bigint NOT NULL REFERENCES subscribers ON DELETE CASCADE,
    series_id     bigint NOT NULL REFERENCES series ON DELETE CASCADE,
    PRIMARY KEY (subscriber_id, series_id)
);

CREATE INDEX subscriber_series_series_idx ON subscriber_series (series_id, subscriber_id);

ALTER TABLE mailings
    ADD COLUMN series_id     bigint REFERENCES series ON DELETE SET NULL,
    ADD COLUMN occurrence_at timestamptz,    -- the scheduled occurrence it was made for
    ADD COLUMN scheduled_at  timestamptz,    -- when it is to be sent
    ADD COLUMN intro_md      text NOT NULL DEFAULT '',
    ADD COLUMN slug          text UNIQUE;    -- its public archive address

-- One digest per series and occurrence: of several instances ticking, one creates it.
CREATE UNIQUE INDEX mailings_occurrence_idx ON mailings (series_id, occurrence_at)
    WHERE occurrence_at IS NOT NULL;
CREATE INDEX mailings_scheduled_idx ON mailings (scheduled_at) WHERE status = 'scheduled';
