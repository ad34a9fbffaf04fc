"""Who may edit: editor accounts and sessions, API keys, one-time form nonces."""
