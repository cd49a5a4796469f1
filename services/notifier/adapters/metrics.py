"""The notifier's Prometheus metrics (on /metrics beside the request metrics)."""

from prometheus_client import Counter, Gauge, Histogram

EVALUATIONS = Counter("notifier_evaluations_total", "Evaluations of every running campaign")
EVALUATION_SECONDS = Histogram(
    "notifier_evaluation_seconds",
    "Time one evaluation takes, every campaign and unit",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UNITS_EVALUATED = Gauge("notifier_units_evaluated", "Units with a target in the last evaluation")
ALERTS_FIRING = Gauge("notifier_alerts_firing", "Alerts firing after the last evaluation", ["rule"])
DELIVERIES = Counter(
    "notifier_deliveries_total",
    "Delivery attempts by channel and outcome (sent, retry, failed)",
    ["channel", "outcome"],
)
ACTIVE = Gauge("notifier_active", "1 while this instance holds the lease, else 0")
