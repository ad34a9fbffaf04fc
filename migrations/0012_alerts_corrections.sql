-- Urgent alerts (one item, at once, to the alert-accepting subscribers of its topics) and
-- corrections (a notice to exactly the people who received an item that changed).

-- A per-subscriber choice, off unless the person (or the signup form) said yes.
ALTER TABLE subscribers ADD COLUMN accepts_alerts boolean NOT NULL DEFAULT false;

-- An alert is a mailing of kind 'alert' carrying one item (also in mailing_items, so the
-- digest ledger and "was it sent" see it); this row holds what the mailing does not.
CREATE TABLE alerts (
    mailing_id    bigint PRIMARY KEY REFERENCES mailings ON DELETE CASCADE,
    item_id       bigint NOT NULL REFERENCES items ON DELETE CASCADE,
    origin        text NOT NULL CHECK (origin IN ('editor', 'cms')),
    requested_by  text NOT NULL,
    recipients    integer NOT NULL,        -- the count shown, which the sender must confirm
    confirmed_by  text,
    confirmed_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX alerts_item_idx ON alerts (item_id);
-- The CMS alert rate limit counts the last hour's rows.
CREATE INDEX alerts_cms_created_idx ON alerts (created_at) WHERE origin = 'cms';

-- A correction or retraction of an item, recorded when it is made (the archive shows it at
-- once); its notice is a mailing of kind 'correction' sent to the item's receivers.
CREATE TABLE corrections (
    correction_id     bigserial PRIMARY KEY,
    item_id           bigint NOT NULL REFERENCES items ON DELETE CASCADE,
    kind              text NOT NULL CHECK (kind IN ('correction', 'retraction')),
    note              text NOT NULL CHECK (length(note) BETWEEN 1 AND 2000),
    old_title         text NOT NULL,
    new_title         text NOT NULL,
    old_summary_html  text NOT NULL,
    new_summary_html  text NOT NULL,
    old_summary_text  text NOT NULL,
    new_summary_text  text NOT NULL,
    origin            text NOT NULL CHECK (origin IN ('editor', 'cms')),
    requested_by      text NOT NULL,
    mailing_id        bigint UNIQUE REFERENCES mailings ON DELETE SET NULL,  -- NULL: nobody to tell
    recipients        integer NOT NULL DEFAULT 0,
    confirmed_by      text,
    confirmed_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX corrections_item_idx ON corrections (item_id, correction_id);
