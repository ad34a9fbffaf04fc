-- Retention (MAILER_RETAIN_DELIVERIES_DAYS, MAILER_RETAIN_EVENTS_DAYS): delivery rows and
-- events are purged in batches by the scheduler (mailer/delivery/retention.py).

-- The item ledger outlives the delivery rows: who was sent which item by a digest or an
-- alert, and first when. "Never an item twice" and a correction's audience read it beside
-- the deliveries still kept. One row per (item, subscriber), written when a row is purged.
CREATE TABLE sent_items (
    item_id       bigint NOT NULL REFERENCES items ON DELETE CASCADE,
    subscriber_id bigint NOT NULL REFERENCES subscribers ON DELETE CASCADE,
    sent_at       timestamptz NOT NULL,
    PRIMARY KEY (item_id, subscriber_id)
);
CREATE INDEX sent_items_subscriber_idx ON sent_items (subscriber_id);

-- Deleting a delivery sets its bounces' delivery_id to NULL: without this index each deleted
-- row would scan the bounces table.
CREATE INDEX bounces_delivery_idx ON bounces (delivery_id) WHERE delivery_id IS NOT NULL;
