-- Re-permission (issue 24): with no per-person engagement figures, an editor asks readers
-- who confirmed long ago whether they still want the mail. Those who answer yes are kept
-- (a consent entry, action 'repermission'); those who do not are unsubscribed only when the
-- editor, shown the counts after the answer window, confirms.

ALTER TABLE consent_events DROP CONSTRAINT consent_events_action_check;
ALTER TABLE consent_events ADD CONSTRAINT consent_events_action_check CHECK (action IN
    ('signup', 'confirm', 'preferences', 'unsubscribe', 'resubscribe', 'import', 'erase',
     'repermission'));

CREATE TABLE repermission_campaigns (
    campaign_id       bigserial PRIMARY KEY,
    mailing_id        bigint NOT NULL UNIQUE REFERENCES mailings ON DELETE RESTRICT,
    older_than_months integer NOT NULL CHECK (older_than_months BETWEEN 1 AND 120),
    answer_days       integer NOT NULL CHECK (answer_days BETWEEN 1 AND 90),
    cutoff            timestamptz NOT NULL,  -- asked: confirmed (or re-confirmed) before this
    status            text NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'scheduled', 'open', 'closed', 'cancelled')),
    recipients        integer NOT NULL,      -- the count shown, which the editor confirms
    requested_by      text NOT NULL,
    send_at           timestamptz,           -- scheduled: when the scheduler sends it
    created_at        timestamptz NOT NULL DEFAULT now(),
    sent_at           timestamptz,
    answer_by         timestamptz,           -- sent_at + answer_days
    removed           integer,               -- how many were unsubscribed at the close
    closed_by         text,
    closed_at         timestamptz
);

-- One campaign at a time: two open ones would ask the same people twice.
CREATE UNIQUE INDEX repermission_one_open_idx ON repermission_campaigns ((true))
    WHERE status IN ('draft', 'scheduled', 'open');

-- Who was asked, and when they said yes: consent, not engagement (no opens, no clicks).
CREATE INDEX repermission_due_idx ON repermission_campaigns (send_at) WHERE status = 'scheduled';

CREATE TABLE repermission_recipients (
    campaign_id   bigint NOT NULL REFERENCES repermission_campaigns ON DELETE CASCADE,
    subscriber_id bigint NOT NULL REFERENCES subscribers ON DELETE CASCADE,
    answered_at   timestamptz,
    PRIMARY KEY (campaign_id, subscriber_id)
);
