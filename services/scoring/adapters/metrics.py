"""The scoring consumer's Prometheus metrics."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_APPLIED = Counter("scoring_events_applied_total", "Initiative events applied to counters")
DUPLICATES_SKIPPED = Counter(
    "scoring_duplicates_skipped_total", "Events skipped: already applied, or at or below the fence"
)
DEAD_LETTERED = Counter("scoring_dead_lettered_total", "Records sent to the dead-letter topic")
APPLY_LATENCY = Histogram(
    "scoring_apply_seconds",
    "Time to apply one partition batch to Redis",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
LAG = Gauge("scoring_partition_lag", "Records behind the end of the partition", ["partition"])
