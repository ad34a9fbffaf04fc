-- Subscriber import and export: a record of every import (the proof an editor points at
-- when a consent ledger entry says "import"), the rows it could not take, and the indexes
-- behind searching subscribers by signup date and by a fragment of their address.

CREATE TABLE subscriber_imports (
    import_id     bigserial PRIMARY KEY,
    status        text NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'done', 'failed', 'interrupted')),
    mode          text NOT NULL CHECK (mode IN ('consented', 'opt_in')),
    dry_run       boolean NOT NULL DEFAULT false,
    source        text,                      -- the consent source note (--source)
    file_name     text NOT NULL,
    file_bytes    bigint,
    options       jsonb NOT NULL DEFAULT '{}'::jsonb,
    requested_by  text NOT NULL,             -- 'cli' or 'editor (<API key name>)'
    columns       text[],                    -- the file's header, for the rejects download
    rows_read     bigint NOT NULL DEFAULT 0,
    bytes_read    bigint NOT NULL DEFAULT 0,
    summary       jsonb,                     -- counts so far, final once status is done
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),   -- also the heartbeat of a running import
    finished_at   timestamptz
);

-- The rows an import did not apply, with why; kept for imports made through the API
-- (the CLI writes them to a file next to the input instead).
CREATE TABLE subscriber_import_rejects (
    import_id  bigint NOT NULL REFERENCES subscriber_imports ON DELETE CASCADE,
    line       bigint NOT NULL,
    reason_key text NOT NULL,
    reason     text NOT NULL,
    cells      text[] NOT NULL,              -- the row as it was in the file
    PRIMARY KEY (import_id, line)
);

-- Search by signup date, newest first, with keyset pagination on (created_at, id).
CREATE INDEX subscribers_created_idx ON subscribers (created_at, subscriber_id);

-- Search by address fragment: a trigram index where the server has pg_trgm (PostgreSQL's
-- contrib package; trusted, so the database owner may create it). The embedded development
-- server has no contrib modules: there the search scans, which is fine at its sizes.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE INDEX subscribers_email_trgm_idx ON subscribers USING gin (email_key gin_trgm_ops);
EXCEPTION WHEN undefined_file OR insufficient_privilege OR feature_not_supported THEN
    RAISE NOTICE 'pg_trgm is not available (%): address search will scan', SQLERRM;
END $$;
