"""The long-running process: `mailer serve`, its worker processes and its scheduler ticks."""
