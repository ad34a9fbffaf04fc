-- Readers' languages (issue 25): an item may be the translation of another (linked by the
-- CMS); a reader may take items in every language; a digest's subject and intro per language.

ALTER TABLE items ADD COLUMN translation_of bigint REFERENCES items ON DELETE SET NULL;
CREATE INDEX items_translation_of_idx ON items (translation_of) WHERE translation_of IS NOT NULL;

-- false: the items in their own language (subscribers.locale) and untagged ones; true: all.
ALTER TABLE subscribers ADD COLUMN both_languages boolean NOT NULL DEFAULT false;

-- {"es": {"subject": "...", "intro_md": "..."}}: what editors wrote for readers of a
-- language; missing entries fall back to subject and intro_md.
ALTER TABLE mailings ADD COLUMN texts jsonb NOT NULL DEFAULT '{}';

-- A tag's primary language, lower case: 'es-MX' and 'es_ES' are 'es'; NULL for none.
CREATE FUNCTION mailer_language(tag text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT nullif(lower(split_part(replace(btrim(tag), '_', '-'), '-', 1)), '') $$;
