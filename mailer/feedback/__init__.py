"""What comes back: bounces and complaints read and applied, suppressions, deliverability,
outbound webhooks."""
