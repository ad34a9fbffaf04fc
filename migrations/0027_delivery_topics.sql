-- The topics a digest's reader had chosen when the digest was fanned out to them, beside
-- the items they get (item_ids): an item with several topics stands in the mail under the
-- heading of the first of its topics the reader chose, once (mailer/delivery/mail_env.py).
-- NULL for other mail, and for deliveries made before this column: the first heading then.
ALTER TABLE deliveries ADD COLUMN topic_ids bigint[];
