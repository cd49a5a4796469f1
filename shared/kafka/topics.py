"""The topics of the system, with partition counts and configs, created idempotently.

Run ``python -m shared.kafka.topics`` to create them (docker-compose does, before the services).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import NoError, TopicAlreadyExistsError, for_code

from shared.settings import CommonSettings

_DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create: name, partitions and configs."""

    name: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)


def topic_specs(settings: CommonSettings) -> list[TopicSpec]:
    """Every topic of the system, as the settings name and size them."""
    durable = {"min.insync.replicas": "2"} if settings.kafka_replication_factor >= 3 else {}
    return [
        # Kept for the whole campaign (no time or size limit): the log is what a rebuild replays.
        TopicSpec(
            settings.topic_initiative_events,
            settings.initiative_events_partitions,
            {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1", **durable},
        ),
        # Event-carried state: the latest record per key (union, campaign, target) is the truth.
        # One partition keeps a total order, and 150,000 units fit easily.
        TopicSpec(
            settings.topic_registry,
            1,
            {"cleanup.policy": "compact", "min.compaction.lag.ms": str(3_600_000), **durable},
        ),
        TopicSpec(
            settings.topic_alerts,
            3,
            {"cleanup.policy": "delete", "retention.ms": str(90 * _DAY_MS), **durable},
        ),
        # Long enough for someone to look at a poison record and replay it after a fix.
        TopicSpec(
            settings.topic_dead_letter,
            1,
            {"cleanup.policy": "delete", "retention.ms": str(30 * _DAY_MS), **durable},
        ),
    ]


async def ensure_topics(
    bootstrap_servers: list[str] | str, specs: list[TopicSpec], *, replication_factor: int = 1
) -> list[str]:
    """Create the topics that do not exist yet; return the names created.

    Asks the controller to create every topic and reads its answer per topic, rather than
    listing first: a topic created a moment ago may not be in the metadata yet.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        response = await admin.create_topics(
            [
                NewTopic(spec.name, spec.partitions, replication_factor, topic_configs=spec.configs)
                for spec in specs
            ]
        )
    finally:
        await admin.close()
    created = []
    for name, code, message, *_ in response.topic_errors:
        if code == NoError.errno:
            created.append(name)
        elif code != TopicAlreadyExistsError.errno:
            error = for_code(code)
            raise error(f"cannot create topic {name}: {message or error.description}")
    return created


def main() -> None:
    """Create the system's topics from the environment's settings."""
    settings = CommonSettings()
    created = asyncio.run(
        ensure_topics(
            settings.kafka_servers,
            topic_specs(settings),
            replication_factor=settings.kafka_replication_factor,
        )
    )
    print(f"topics created: {', '.join(created) or 'none (all exist)'}")


if __name__ == "__main__":
    main()
