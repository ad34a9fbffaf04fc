"""Who is on the list: signup with double opt-in, consent, topics, preferences, search."""
