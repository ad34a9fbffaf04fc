"""What the tests share: factories, real PostgreSQL and SMTP fixtures, process helpers."""
