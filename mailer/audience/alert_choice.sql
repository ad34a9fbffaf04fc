-- A subscriber's choice to receive urgent alerts (audience/alert_choice.py).

-- name: cancel_alert_deliveries_of
-- A subscriber turned alerts off: alerts queued for them are not sent.
UPDATE deliveries SET status = 'cancelled', finished_at = now(),
       last_reply = 'not sent: the subscriber turned alerts off'
WHERE subscriber_id = $1 AND kind = 'alert' AND status IN ('queued', 'deferred')
  AND mailing_id IS NOT NULL;

-- name: set_accepts_alerts
-- Returns the row only when the choice changed.
UPDATE subscribers SET accepts_alerts = $2, updated_at = now()
WHERE subscriber_id = $1 AND accepts_alerts IS DISTINCT FROM $2
RETURNING subscriber_id, email;
