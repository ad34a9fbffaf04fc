-- The editor console's care for secrets and passwords.
--
-- A password someone else chose and gave out (the demo admin's, printed at the first start)
-- is replaced by the account's owner before anything else, at their first sign-in.
ALTER TABLE editors ADD COLUMN must_change_password boolean NOT NULL DEFAULT false;

-- Console forms that make a secret shown once (an API key, a set-password link) carry a
-- random one-time nonce; the first post spends it in the transaction that makes the
-- secret, so reloading the answer page (the browser posts the form again) makes nothing
-- twice and is told what the first post did. Only the nonce's hash is kept, and never the
-- secret: `done` says what was made in words (a key's name, an account's address).
CREATE TABLE console_form_nonces (
    nonce_hash bytea PRIMARY KEY,                    -- sha256 of the form's nonce
    editor_id  bigint REFERENCES editors ON DELETE CASCADE,
    done       text NOT NULL,
    used_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX console_form_nonces_time_idx ON console_form_nonces (used_at);
