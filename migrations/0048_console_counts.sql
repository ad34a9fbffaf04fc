-- Subscribers per topic and per series, counted by one scan and kept: the console's dashboard,
-- topics and series pages read these rows instead of joining a million subscribers on every
-- visit (1-2 s at 1,000,000). They lag by at most COUNTS_MAX_AGE seconds (editorial/counts.py):
-- a page that finds them older recounts in the background, and the worker's tick recounts
-- on that interval. kind 'total' is the row every count has: when it was counted.

CREATE TABLE audience_counts (
    kind        text NOT NULL CHECK (kind IN ('topic', 'series', 'total')),
    key_id      bigint NOT NULL,        -- topic_id, series_id; 0 for the total
    subscribers bigint NOT NULL,        -- everyone who has it (for the total: every row)
    active      bigint NOT NULL,
    counted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, key_id)
);

-- The dashboard's topic growth: per editor time zone and window, each day's net change per
-- topic from the consent ledger (editorial/overview.py topic_changes), kept as audience_counts
-- are (a walk through the ledger takes about a second at 1,000,000 subscribers).
CREATE TABLE topic_changes_kept (
    zone       text NOT NULL,
    days       integer NOT NULL,
    changes    jsonb NOT NULL,          -- [[day, slug, change], ...]
    counted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (zone, days)
);

-- The ledger's entries of the last days: whose topics changed lately (topic_changes).
CREATE INDEX consent_events_occurred_idx ON consent_events (occurred_at);
