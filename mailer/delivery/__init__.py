"""Getting mail out: the per-recipient queue, fan-out, compose and render, SMTP, the sender."""
