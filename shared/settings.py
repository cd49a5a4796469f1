"""Settings read from the environment: one prefix (``SANGKIEN_``) for the whole system.

Each service has its own class, built on :class:`CommonSettings`; fields that belong to one
service carry its name (``SANGKIEN_SUBMISSION_DATABASE_URL``), so one ``.env`` file can
configure the whole stack without two services reading the same variable differently.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field, SecretStr
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SANGKIEN_"


class CommonSettings(BaseSettings):
    """What every service reads: where Kafka and Redis are, topic names, logging."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port."
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis connection URL.")

    topic_initiative_events: str = Field(
        "sangkien.initiative-events", description="Initiative events, keyed by grassroots union."
    )
    topic_registry: str = Field(
        "sangkien.registry", description="Compacted registry: unions, campaigns, targets."
    )
    topic_alerts: str = Field("sangkien.alerts", description="Lag alerts raised and resolved.")
    topic_dead_letter: str = Field(
        "sangkien.dead-letter", description="Records that could not be processed, with reason."
    )
    initiative_events_partitions: int = Field(
        12, ge=1, description="Partitions of the initiative events topic (scoring parallelism)."
    )
    kafka_replication_factor: int = Field(
        1, ge=1, description="Replication factor of the topics the services create."
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Lowest log level written."
    )
    log_format: Literal["json", "console"] = Field(
        "json", description="json for machines, console for people at a terminal."
    )
    timezone: str = Field(
        "Asia/Ho_Chi_Minh", description="Time zone of campaign dates and daily counters."
    )
    readiness_timeout_seconds: float = Field(
        2.0, gt=0, description="How long /readyz waits for each dependency."
    )
    clock_start: AwareDatetime | None = Field(
        None,
        description="Simulated time: the clock starts at this instant (RFC 3339) instead of the "
        "real time.",
    )
    clock_speed: float = Field(
        1.0,
        ge=0,
        description="How many times faster than real time the simulated clock runs; 0 keeps it "
        "fixed at clock_start.",
    )
    clock_anchor: AwareDatetime | None = Field(
        None,
        description="The real instant at which the simulated clock reads clock_start (before "
        "it, the clock stands at clock_start); give every process of a stack the same anchor "
        "and they agree on the time. Default: when the process starts.",
    )
    cors_allow_origins: list[str] = Field(
        default_factory=list,
        description="Web origins whose pages may call this service's API from a browser (the "
        "dashboard's, for example), as a JSON list.",
    )

    @property
    def kafka_servers(self) -> list[str]:
        """Bootstrap servers as a list."""
        return [s.strip() for s in self.kafka_bootstrap_servers.split(",") if s.strip()]


class SubmissionSettings(CommonSettings):
    """The submission service: registry, initiatives, outbox relay."""

    submission_port: int = Field(8001, description="HTTP port of the submission service.")
    submission_database_url: str = Field(
        "sqlite+aiosqlite:///./var/submission.db",
        description="SQLAlchemy async URL: SQLite (default) or postgresql+asyncpg://…",
    )
    submission_person_key_secret: SecretStr = Field(
        description="Required secret that turns authors into pseudonymous keys (32+ characters).",
        min_length=32,
    )
    submission_migrate_on_start: bool = Field(
        True, description="Apply the database migrations when the service starts."
    )
    submission_max_body_bytes: int = Field(
        1_048_576, gt=0, description="Largest JSON request body accepted (413 above it)."
    )
    submission_max_upload_bytes: int = Field(
        10_485_760, gt=0, description="Largest CSV or Excel file accepted for an import."
    )
    submission_relay_enabled: bool = Field(
        True, description="Run the outbox relay in this instance (one instance holds the lease)."
    )
    submission_relay_batch_size: int = Field(
        500, gt=0, description="Outbox rows the relay publishes per round."
    )
    submission_relay_idle_seconds: float = Field(
        0.5, gt=0, description="How often the relay looks for work when nobody wakes it."
    )
    # A support team types or imports (a batch of up to 1,000 rows is one request): 20 requests
    # a second, 200 at once, is far above a person and stops a runaway script. The benchmark
    # raises it, since it measures the app and not the limit.
    submission_registration_rate_per_second: float = Field(
        20.0,
        gt=0,
        description="Registration requests (POST /initiatives, /initiatives/batch, "
        "/initiatives/import) one API token may make per second, on average, in each instance "
        "(429 above it).",
    )
    submission_registration_burst: int = Field(
        200,
        ge=1,
        description="Registration requests one API token may make at once before the rate applies.",
    )


class ScoringSettings(CommonSettings):
    """The scoring service: counters in Redis, real-time queries."""

    scoring_port: int = Field(8002, description="HTTP port of the scoring service.")
    scoring_dashboard_submission_url: str | None = Field(
        None,
        description="The submission service's address as the dashboard's browser reaches it "
        "(for the initiatives behind a number); none: the dashboard shows no drill-down.",
    )
    scoring_dashboard_notifier_url: str | None = Field(
        None,
        description="The notifier's address as the dashboard's browser reaches it (for the "
        "firing alerts); none: the dashboard shows no alerts.",
    )
    scoring_consumer_group: str = Field(
        "sangkien-scoring", description="Kafka consumer group of the scoring instances."
    )
    scoring_consume: bool = Field(
        True, description="Consume the initiative and registry topics (off: queries only)."
    )
    scoring_poll_records: int = Field(
        2000, ge=1, description="Most records the consumer takes from Kafka in one poll."
    )
    scoring_fetch_wait_ms: int = Field(
        100,
        ge=0,
        description="How long the broker may hold a fetch to gather scoring_fetch_min_bytes: "
        "a trickle of events is then fetched ten times a second, not hundreds.",
    )
    scoring_fetch_min_bytes: int = Field(
        65536, ge=1, description="What the broker gathers before it answers a fetch early."
    )
    scoring_rank_interval_seconds: float = Field(
        1.0,
        gt=0,
        description="How often the rankings of upper-level units touched since are refreshed "
        "(a step ranks the units initiatives are registered at itself).",
    )
    scoring_step_events: int = Field(
        500,
        ge=1,
        description="Most events one Lua step applies. Redis answers nobody while a step runs "
        "(about 0.1 ms an event): smaller steps keep queries fast during a replay, larger ones "
        "sum more increments before writing them.",
    )


class NotifierSettings(CommonSettings):
    """The notifier: lag alerts to union heads."""

    notifier_port: int = Field(8003, description="HTTP port of the notifier.")
    notifier_database_url: str = Field(
        "sqlite+aiosqlite:///./var/notifier.db",
        description="SQLAlchemy async URL of the alert state and delivery log.",
    )
    notifier_consumer_group: str = Field(
        "sangkien-notifier", description="Kafka consumer group of the notifier."
    )
    notifier_migrate_on_start: bool = Field(
        True, description="Apply the notifier database's migrations when it starts."
    )
    smtp_host: str = Field("127.0.0.1", description="SMTP server for alert emails.")
    smtp_port: int = Field(1025, description="SMTP server port.")
    smtp_sender: str = Field("sangkien@localhost", description="From address of alert emails.")
    smtp_username: str | None = Field(
        None, description="SMTP login; none: the server is used without authentication."
    )
    smtp_password: SecretStr | None = Field(None, description="SMTP password of the login.")
    smtp_starttls: bool = Field(
        False, description="Upgrade the SMTP connection with STARTTLS (required when on)."
    )
    smtp_timeout_seconds: float = Field(
        10.0, gt=0, description="How long connecting and each SMTP command may take."
    )
    notifier_webhook_secret: SecretStr | None = Field(
        None,
        min_length=32,
        description="Secret that signs webhook deliveries (32+ characters); webhooks are not "
        "sent without it.",
    )
    notifier_webhook_timeout_seconds: float = Field(
        5.0, gt=0, description="How long one webhook delivery may take, connecting included."
    )
    notifier_evaluate: bool = Field(
        True,
        description="Evaluate and send in this process (off: the API only, e.g. beside the "
        "active instance).",
    )
    notifier_evaluation_interval_minutes: float = Field(
        60.0,
        gt=0,
        description="Minutes of the campaign clock between two evaluations of every unit.",
    )
    notifier_pending_minutes: float = Field(
        60.0, ge=0, description="How long a unit must lag before its alert fires (clock)."
    )
    notifier_repeat_hours: float = Field(
        24.0, gt=0, description="How often a firing alert is repeated to the head (clock)."
    )
    notifier_min_refire_hours: float = Field(
        12.0, ge=0, description="A unit that flaps is not told again sooner than this (clock)."
    )
    notifier_escalate_after_days: float = Field(
        3.0, ge=0, description="A unit critical this long is reported to its parent's head."
    )
    notifier_backlog_limit_days: int = Field(
        7, ge=1, description="Initiatives waiting for review longer than this raise an alert."
    )
    notifier_lease_seconds: float = Field(
        30.0,
        gt=0,
        description="Real seconds the active notifier's lease lasts; another instance takes "
        "over once it expires.",
    )
    notifier_tick_seconds: float = Field(
        1.0, gt=0, description="Real seconds between two looks at the lease, clock and outbox."
    )
    notifier_submission_url: str = Field(
        "http://127.0.0.1:8001",
        description="The submission service's address: the notifier asks it who a bearer token "
        "belongs to (tokens live in its database only).",
    )
    notifier_token_cache_seconds: float = Field(
        30.0,
        ge=0,
        description="How long the notifier trusts what the submission service said of a token; "
        "a revoked token stops working within this time (0: ask on every request).",
    )


ALL_SETTINGS: tuple[type[CommonSettings], ...] = (
    SubmissionSettings,
    ScoringSettings,
    NotifierSettings,
)


def env_name(field_name: str) -> str:
    """The environment variable that sets a settings field."""
    return f"{ENV_PREFIX}{field_name.upper()}"


def settings_table() -> str:
    """Every environment variable of every service as a Markdown table (for the README)."""
    rows = ["| variable | default | used by | what it sets |", "|---|---|---|---|"]
    common = set(CommonSettings.model_fields)
    for name, field in CommonSettings.model_fields.items():
        rows.append(_row(name, field.default, "all services", field.description))
    for cls in ALL_SETTINGS:
        service = cls.__name__.removesuffix("Settings").lower()
        for name, field in cls.model_fields.items():
            if name not in common:
                rows.append(_row(name, field.default, service, field.description))
    return "\n".join(rows) + "\n"


def _row(name: str, default: object, used_by: str, description: str | None) -> str:
    shown = "(required)" if default is PydanticUndefined else f"`{default}`"
    return f"| `{env_name(name)}` | {shown} | {used_by} | {description or ''} |"


if __name__ == "__main__":
    print(settings_table(), end="")
