"""Topic creation and Redis script registration against the real servers."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.kafka import ensure_topics, topic_specs
from shared.redis import check_redis, create_redis, register_script
from shared.settings import CommonSettings

pytestmark = pytest.mark.integration


async def _topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    [resource] = response.resources
    entries = resource[-1]  # (name, value, read_only, ...) per config
    return {entry[0]: entry[1] for entry in entries}


async def test_topics_are_created_with_their_retention_and_compaction(
    settings: CommonSettings,
) -> None:
    events = await _topic_config(settings.kafka_bootstrap_servers, settings.topic_initiative_events)
    registry = await _topic_config(settings.kafka_bootstrap_servers, settings.topic_registry)

    assert events["retention.ms"] == "-1"
    assert events["cleanup.policy"] == "delete"
    assert registry["cleanup.policy"] == "compact"


async def test_creating_topics_again_creates_nothing(settings: CommonSettings) -> None:
    created = await ensure_topics(settings.kafka_servers, topic_specs(settings))

    assert created == []


async def test_a_registered_script_survives_a_script_flush(redis_url: str, unique: str) -> None:
    redis = create_redis(redis_url)
    increment = register_script(redis, "return redis.call('INCRBY', KEYS[1], ARGV[1])")
    key = f"test:{unique}:counter"
    try:
        await increment(keys=[key], args=[2])
        await redis.script_flush()  # what a Redis restart does to the script cache
        value = await increment(keys=[key], args=[3])
    finally:
        await redis.delete(key)
        await redis.aclose()

    assert value == 5


async def test_redis_readiness_raises_when_nothing_listens() -> None:
    redis = create_redis("redis://127.0.0.1:1/0", socket_timeout=0.5)
    with pytest.raises(Exception, match=r"(?i)connect|refused"):
        await check_redis(redis)
    await redis.aclose()
