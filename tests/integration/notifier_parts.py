"""What the notifier's integration tests build alike: its database (migrated SQLite), Redis,
an HTTP client and a Kafka producer, and one notifier instance (evaluator and dispatcher)
sending to the test's SMTP server and webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer
from notifier_servers import SmtpCatcher
from pydantic import SecretStr
from redis.asyncio import Redis

from services.notifier.adapters.email import EmailSender
from services.notifier.adapters.migrations import migrate
from services.notifier.adapters.webhook import WebhookSender
from services.notifier.domain.lifecycle import Policy
from services.notifier.domain.registry import Registry
from services.notifier.service.delivery import Dispatcher, Senders
from services.notifier.service.evaluation import Evaluator
from shared.database import Database, create_engine
from shared.kafka import create_producer
from shared.redis import create_redis
from shared.settings import CommonSettings

SECRET = "thu-bi-mat-cua-lien-doan-lao-dong-dak-lak"
LEASE = "notifier"
# Evaluated once a day or once a test: fire on the first evaluation that sees a unit lag.
FIRE_AT_ONCE = Policy(pending_for=timedelta(0))


@dataclass
class NotifierParts:
    """The notifier's clients on the test's servers."""

    settings: CommonSettings
    database: Database
    redis: Redis
    http: httpx.AsyncClient
    producer: AIOKafkaProducer

    def instance(
        self,
        registry: Registry,
        smtp: SmtpCatcher,
        *,
        holder: str,
        backlog_limit_days: int = 7,
        policy: Policy = FIRE_AT_ONCE,
    ) -> tuple[Evaluator, Dispatcher]:
        """One notifier instance called ``holder``: its evaluator and its dispatcher."""
        evaluator = Evaluator(
            database=self.database,
            redis=self.redis,
            registry=registry,
            policy=policy,
            lease_name=LEASE,
            holder=holder,
            alerts_topic=self.settings.topic_alerts,
            backlog_limit_days=backlog_limit_days,
        )
        senders = Senders(
            email=EmailSender(smtp.settings()),
            webhook=WebhookSender(self.http, secret=SecretStr(SECRET), timeout_seconds=0.5),
            producer=self.producer,
        )
        dispatcher = Dispatcher(
            database=self.database, senders=senders, lease_name=LEASE, holder=holder
        )
        return evaluator, dispatcher


@asynccontextmanager
async def notifier_parts(settings: CommonSettings, tmp_path: Path) -> AsyncIterator[NotifierParts]:
    """A migrated SQLite database in ``tmp_path`` and clients of the session's Redis and Kafka."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}"
    await migrate(url)
    engine = create_engine(url)
    redis = create_redis(settings.redis_url)
    http = httpx.AsyncClient()
    producer = create_producer(settings)
    await producer.start()
    try:
        yield NotifierParts(settings, Database(engine), redis, http, producer)
    finally:
        await producer.stop()
        await http.aclose()
        await redis.aclose()
        await engine.dispose()
