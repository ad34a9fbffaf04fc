-- A feed served again byte for byte (many servers send no ETag) is not parsed again.
ALTER TABLE feed_sources ADD COLUMN body_hash bytea;
