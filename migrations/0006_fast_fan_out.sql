-- Fan-out speed: a foreign key on deliveries costs a trigger per inserted row (two of them
-- doubled the time of a 1,000,000-row fan-out). Mailings are never deleted, and the code
-- that deletes subscribers (erasure, the purge of unconfirmed signups) unlinks their
-- deliveries itself, so the keys guard nothing that happens.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_mailing_id_fkey;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_subscriber_id_fkey;
