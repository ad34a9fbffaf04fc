"""mailer: mailing lists and news digests for a public-health newsroom."""

__version__ = "0.1.0"
