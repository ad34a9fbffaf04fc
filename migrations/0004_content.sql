-- The content feed: sources polled on a schedule (or pushed by the CMS) and their items.

CREATE TABLE feed_sources (
    source_id       bigserial PRIMARY KEY,
    kind            text NOT NULL DEFAULT 'feed' CHECK (kind IN ('feed', 'push')),
    url             text NOT NULL UNIQUE,
    name            text NOT NULL DEFAULT '',
    default_topics  text[] NOT NULL DEFAULT '{}',       -- topic slugs every item gets
    category_rules  jsonb NOT NULL DEFAULT '{}'::jsonb,  -- {"feed category": ["topic-slug"]}
    poll_interval   integer NOT NULL DEFAULT 900 CHECK (poll_interval BETWEEN 5 AND 604800),
    paused          boolean NOT NULL DEFAULT false,
    next_poll_at    timestamptz NOT NULL DEFAULT now(),
    failures        integer NOT NULL DEFAULT 0,
    last_polled_at  timestamptz,
    last_status     integer,
    last_error      text,
    last_warning    text,
    etag            text,
    last_modified   text,
    items_seen      integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX feed_sources_due_idx ON feed_sources (next_poll_at) WHERE NOT paused AND kind = 'feed';

INSERT INTO feed_sources (kind, url, name, paused) VALUES ('push', 'cms:push', 'CMS push', true);

CREATE TABLE items (
    item_id        bigserial PRIMARY KEY,
    source_id      bigint REFERENCES feed_sources ON DELETE SET NULL,
    guid           text,                      -- the feed's id/guid (or the CMS's id)
    link           text,                      -- canonical: no fragment, no utm_* and friends
    title          text NOT NULL,
    summary_html   text NOT NULL DEFAULT '',  -- sanitised with nh3
    summary_text   text NOT NULL DEFAULT '',
    image_url      text,
    image_alt      text,
    author         text,
    language       text,
    categories     text[] NOT NULL DEFAULT '{}',
    topic_ids      bigint[] NOT NULL DEFAULT '{}',
    published_at   timestamptz NOT NULL,      -- a missing date takes the first-seen time
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    content_hash   bytea NOT NULL,            -- what upstream sent: unchanged means no update
    hidden         boolean NOT NULL DEFAULT false,
    edited_at      timestamptz                -- an editor changed title/summary/topics: upstream
                                              -- updates no longer overwrite those
);

CREATE UNIQUE INDEX items_source_guid_idx ON items (source_id, guid) WHERE guid IS NOT NULL;
CREATE UNIQUE INDEX items_link_idx ON items (link) WHERE link IS NOT NULL;
CREATE INDEX items_published_idx ON items (published_at DESC) WHERE NOT hidden;
CREATE INDEX items_topics_idx ON items USING gin (topic_ids);

-- Which items a mailing carried (the digest issue fills it; "not yet sent" reads it).
CREATE TABLE mailing_items (
    mailing_id bigint NOT NULL REFERENCES mailings ON DELETE CASCADE,
    item_id    bigint NOT NULL REFERENCES items ON DELETE CASCADE,
    position   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (mailing_id, item_id)
);

CREATE INDEX mailing_items_item_idx ON mailing_items (item_id);
