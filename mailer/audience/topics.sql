-- Topics people subscribe to.

-- name: create_topic
INSERT INTO topics (slug, name, description, public, position)
VALUES ($1, $2, $3, $4, $5)
RETURNING topic_id, slug, name, description, public, position;

-- name: list_topics
SELECT topic_id, slug, name, description, public, position
FROM topics ORDER BY position, name;

-- name: get_topic
SELECT topic_id, slug, name, description, public, position FROM topics WHERE slug = $1;

-- name: topics_by_slug
SELECT topic_id, slug, public FROM topics WHERE slug = ANY($1::text[]);

-- name: update_topic
-- NULL leaves a field as it is.
UPDATE topics
SET name = coalesce($2, name), description = coalesce($3, description),
    public = coalesce($4, public), position = coalesce($5, position), updated_at = now()
WHERE slug = $1
RETURNING topic_id, slug, name, description, public, position;

-- name: delete_topic
DELETE FROM topics WHERE slug = $1 RETURNING topic_id;
