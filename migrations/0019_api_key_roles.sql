-- API keys get a role like console accounts: 'editor' (items, digests, alerts, reading)
-- or 'admin' (also topics, feeds, series, subscriber data and erasure, imports and
-- exports, suppressions, outbound webhooks). Keys made before roles existed could do
-- everything, so they stay 'admin' (nothing that works today stops working); a key made
-- from now on is 'editor' unless asked otherwise.
ALTER TABLE api_keys ADD COLUMN role text NOT NULL DEFAULT 'admin'
    CHECK (role IN ('editor', 'admin'));
ALTER TABLE api_keys ALTER COLUMN role SET DEFAULT 'editor';
