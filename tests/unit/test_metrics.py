from prometheus_client.exposition import generate_latest

from mailer.metrics import Metrics


def test_every_delivery_outcome_is_exposed_from_the_start() -> None:
    """A counter series that appears only with the first failure is one an alert misses."""
    text = generate_latest(Metrics().registry).decode()
    for outcome in ("sent", "deferred", "failed", "suppressed"):
        assert f'mailer_deliveries_total{{outcome="{outcome}"}} 0.0' in text
