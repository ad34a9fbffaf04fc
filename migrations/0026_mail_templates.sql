-- Mail templates edited in the console (mailer/delivery/template_versions.py): every save is
-- a new version, never an update, so the history says who changed what and when, and a
-- revert is a new version with an older one's text. A version whose three parts are NULL is
-- "back to the default": the files (data dir, then the bundled templates) are in force again.
-- The newest version of a kind is the one in force.
CREATE TABLE mail_template_versions (
    version_id    bigserial PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('digest', 'alert', 'correction', 'confirm', 'welcome')),
    subject_txt   text,
    body_txt      text,
    body_html     text,
    action        text NOT NULL CHECK (action IN ('saved', 'reverted', 'default')),
    reverted_from bigint REFERENCES mail_template_versions,
    editor_id     bigint REFERENCES editors ON DELETE SET NULL,
    editor_email  text NOT NULL,                 -- who, kept when the account goes
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Set by a worker when this version did not compile for a real mailing (it then used
    -- the files instead): shown in the console beside the version.
    failed_at     timestamptz,
    failure       text,
    CHECK ((subject_txt IS NULL) = (action = 'default')
           AND (body_txt IS NULL) = (subject_txt IS NULL)
           AND (body_html IS NULL) = (subject_txt IS NULL))
);
CREATE INDEX mail_template_versions_kind ON mail_template_versions (kind, version_id DESC);
