"""Local stack launcher: real Kafka (KRaft, from Maven Central jars), Redis and PostgreSQL from
Debian's packages, and the three services, on free loopback ports, without Docker.

The run command and the test fixtures both use it.
"""

from deploy.launcher.errors import LaunchError
from deploy.launcher.kafka import KafkaServer, start_kafka
from deploy.launcher.postgres import PostgresServer, start_postgres
from deploy.launcher.redis import RedisServer, start_redis
from deploy.launcher.services import SERVICES, ServiceProcess, start_service

__all__ = [
    "SERVICES",
    "KafkaServer",
    "LaunchError",
    "PostgresServer",
    "RedisServer",
    "ServiceProcess",
    "start_kafka",
    "start_postgres",
    "start_redis",
    "start_service",
]
