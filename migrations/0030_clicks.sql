-- Click counts of the item links in bulk mail: aggregate only. A row is (mailing, item, link,
-- day) and two counters; nothing about who clicked (no subscriber, IP, user agent, cookie, nor
-- a row per request) is stored anywhere.

CREATE TABLE click_counts (
    mailing_id bigint NOT NULL REFERENCES mailings ON DELETE CASCADE,
    item_id    bigint NOT NULL REFERENCES items ON DELETE CASCADE,
    link       text NOT NULL,               -- the target URL the redirect sent people to
    day        date NOT NULL,               -- UTC
    clicks     integer NOT NULL DEFAULT 0,  -- readers' clicks
    filtered   integer NOT NULL DEFAULT 0,  -- scanners, previews, HEAD requests, bursts
    PRIMARY KEY (mailing_id, item_id, link, day)
);

CREATE INDEX click_counts_item_idx ON click_counts (item_id);
CREATE INDEX click_counts_day_idx ON click_counts (day);

-- The days whose totals went out as a `clicks.daily` event: one instance, once a day.
CREATE TABLE click_reports (
    day         date PRIMARY KEY,
    reported_at timestamptz NOT NULL DEFAULT now()
);
