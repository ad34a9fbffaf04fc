-- The consent ledger (append-only).

-- name: save_consent_text
INSERT INTO consent_texts (text_hash, text) VALUES ($1, $2) ON CONFLICT (text_hash) DO NOTHING;

-- name: insert_consent_event
INSERT INTO consent_events
    (subscriber_id, email_hash, action, ip, user_agent, source, topics, consent_text_hash, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: list_consent_events
SELECT ce.consent_event_id, ce.action, ce.occurred_at, ce.ip, ce.user_agent, ce.source,
       ce.topics, ct.text AS consent_text, ce.detail
FROM consent_events ce LEFT JOIN consent_texts ct ON ct.text_hash = ce.consent_text_hash
WHERE ce.subscriber_id = $1
ORDER BY ce.consent_event_id;
