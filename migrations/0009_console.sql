-- The editor console: editor accounts, their sessions (server-side, so sign-out and
-- disabling revoke them), one-time set-password links, sign-in attempts (rate limits that
-- hold across web replicas, and an audit trail), and per-mailing counts kept once a
-- mailing is over (the dashboard lists sends without scanning deliveries).

CREATE TABLE editors (
    editor_id       bigserial PRIMARY KEY,
    email           text NOT NULL,
    email_key       text NOT NULL UNIQUE,            -- case-folded: one account per address
    name            text NOT NULL DEFAULT '',
    role            text NOT NULL DEFAULT 'editor' CHECK (role IN ('editor', 'admin')),
    password_hash   text,                            -- argon2id; NULL until a password is set
    timezone        text,                            -- IANA name for schedules; NULL: browser's
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_sign_in_at timestamptz,
    disabled_at     timestamptz
);

CREATE TABLE editor_sessions (
    session_id   bigserial PRIMARY KEY,
    editor_id    bigint NOT NULL REFERENCES editors ON DELETE CASCADE,
    token_hash   bytea NOT NULL UNIQUE,             -- sha256 of the cookie's random token
    csrf_token   text NOT NULL,                      -- the synchronizer token of its forms
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    ip           inet,
    user_agent   text
);

CREATE INDEX editor_sessions_editor_idx ON editor_sessions (editor_id);
CREATE INDEX editor_sessions_expiry_idx ON editor_sessions (expires_at);

CREATE TABLE editor_password_tokens (
    token_hash  bytea PRIMARY KEY,                   -- sha256 of the link's random token
    editor_id   bigint NOT NULL REFERENCES editors ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);

CREATE INDEX editor_password_tokens_editor_idx ON editor_password_tokens (editor_id);

CREATE TABLE editor_sign_in_attempts (
    attempt_id   bigserial PRIMARY KEY,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    ip           text NOT NULL,
    email_key    text NOT NULL,                      -- as typed (case-folded), known or not
    succeeded    boolean NOT NULL
);

CREATE INDEX editor_sign_in_attempts_ip_idx ON editor_sign_in_attempts (ip, attempted_at);
CREATE INDEX editor_sign_in_attempts_email_idx
    ON editor_sign_in_attempts (email_key, attempted_at);
CREATE INDEX editor_sign_in_attempts_time_idx ON editor_sign_in_attempts (attempted_at);

-- Counts of a mailing whose deliveries are all final, computed once (one scan of its
-- deliveries) the first time the console lists it; bounces are counted live (few rows).
CREATE TABLE mailing_counts (
    mailing_id  bigint PRIMARY KEY REFERENCES mailings ON DELETE CASCADE,
    total       integer NOT NULL,
    sent        integer NOT NULL,
    failed      integer NOT NULL,
    suppressed  integer NOT NULL,
    cancelled   integer NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now()
);
