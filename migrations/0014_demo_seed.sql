-- The first run in development: demo data is seeded once per database, and this row says
-- that the question was settled, so deleting the demo topics does not bring them back at
-- the next start. `mailer demo reset` drops everything, this row included, and seeds again.
CREATE TABLE demo_seed (
    only_row        boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    outcome         text NOT NULL CHECK (outcome IN ('seeded', 'skipped')),
    decided_at      timestamptz NOT NULL DEFAULT now(),
    -- What was seeded (NULL when skipped because the database already had data).
    admin_email     text,
    feed_source_id  bigint REFERENCES feed_sources (source_id) ON DELETE SET NULL,
    series_id       bigint REFERENCES series (series_id) ON DELETE SET NULL
);
