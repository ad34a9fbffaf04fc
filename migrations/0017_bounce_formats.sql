-- Bounces read from every MTA's format (issue 18): a report is also 'text' (another MTA's
-- bounce or delay warning, read by flufl.bounce or by its words) or 'autoreply' (kept,
-- never counted). Provider notifications (Amazon SES among them) stay 'event'.
ALTER TABLE bounce_reports DROP CONSTRAINT bounce_reports_kind_check;
ALTER TABLE bounce_reports ADD CONSTRAINT bounce_reports_kind_check
    CHECK (kind IN ('dsn', 'arf', 'text', 'autoreply', 'event', 'unknown'));
