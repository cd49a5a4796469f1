"""Kafka helpers every service uses: clients with safe defaults, topics, readiness, dead letters."""

from shared.kafka.clients import (
    create_consumer,
    create_producer,
    create_registry_reader,
    producer_options,
)
from shared.kafka.dead_letter import (
    DEAD_LETTER_HEADERS,
    DeadLetter,
    OnceDeadLetters,
    RegistryEvent,
    decode_or_dead_letter,
    decode_registry_record,
    read_dead_letter,
    send_to_dead_letter,
)
from shared.kafka.readiness import check_kafka
from shared.kafka.topics import TopicSpec, ensure_topics, topic_specs

__all__ = [
    "DEAD_LETTER_HEADERS",
    "DeadLetter",
    "OnceDeadLetters",
    "RegistryEvent",
    "TopicSpec",
    "check_kafka",
    "create_consumer",
    "create_producer",
    "create_registry_reader",
    "decode_or_dead_letter",
    "decode_registry_record",
    "ensure_topics",
    "producer_options",
    "read_dead_letter",
    "send_to_dead_letter",
    "topic_specs",
]
