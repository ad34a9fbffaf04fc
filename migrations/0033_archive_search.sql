-- The archive searchable (issue 24): full-text search over sent items and digests, stemmed
-- in the item's language where it has one (English, Spanish), word for word otherwise.
-- Expression indexes rather than stored columns: no table rewrite, and no `SELECT *` grows
-- a tsvector column. Queries call the same functions, so the planner uses the indexes.

CREATE FUNCTION mailer_search_config(language text) RETURNS regconfig
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE mailer_language(language)
               WHEN 'en' THEN 'english'::regconfig
               WHEN 'es' THEN 'spanish'::regconfig
               ELSE 'simple'::regconfig
           END
$$;

-- An item's words: the title weighs more than the text.
CREATE FUNCTION mailer_item_search(language text, title text, body text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT setweight(to_tsvector(mailer_search_config(language), coalesce(title, '')), 'A')
        || setweight(to_tsvector(mailer_search_config(language), coalesce(body, '')), 'B')
$$;

-- A digest's or alert's words: its subject and intro (English, the newsroom's first
-- language) and what editors wrote per language (mailings.texts: Spanish).
CREATE FUNCTION mailer_mailing_search(subject text, intro text, texts jsonb) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT setweight(to_tsvector('english'::regconfig, coalesce(subject, '')), 'A')
        || setweight(to_tsvector('english'::regconfig, coalesce(intro, '')), 'B')
        || setweight(to_tsvector('spanish'::regconfig, coalesce(texts, '{}'::jsonb)), 'B')
$$;

CREATE INDEX items_search_idx ON items
    USING gin (mailer_item_search(language, title, summary_text));
CREATE INDEX mailings_search_idx ON mailings
    USING gin (mailer_mailing_search(subject, intro_md, texts))
    WHERE kind IN ('digest', 'alert');
