"""What editors send: series and their schedules, digests, alerts, corrections."""
