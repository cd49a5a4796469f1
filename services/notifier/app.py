"""HTTP entrypoint of the notifier; the lifespan is its composition root."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import FastAPI
from redis.asyncio import Redis

from services.notifier.adapters.email import EmailSender
from services.notifier.adapters.migrations import migrate
from services.notifier.adapters.registry_reader import RegistryFollower
from services.notifier.adapters.webhook import WebhookSender
from services.notifier.api import alerts, auth, digests, silences
from services.notifier.domain.registry import Registry
from services.notifier.service.delivery import Dispatcher, Senders
from services.notifier.service.digests import DigestService
from services.notifier.service.evaluation import Evaluator
from services.notifier.service.runner import LEASE_NAME, NotifierRunner, policy_from
from shared.auth import TokenIntrospector
from shared.clock import Clock, clock_from_settings
from shared.database import Database, create_engine
from shared.kafka import create_producer
from shared.logging import get_logger
from shared.redis import create_redis
from shared.service_app import (
    build_app,
    database_dependency,
    kafka_dependency,
    redis_dependency,
    supervise,
)
from shared.settings import NotifierSettings

log = get_logger(__name__)

# How long a stop waits for the evaluation and dispatch in hand (uvicorn is given 10 s).
ROUND_GRACE_SECONDS = 8.0


def create_app(settings: NotifierSettings | None = None) -> FastAPI:
    """Build the app; nothing connects until the lifespan starts."""
    settings = settings or NotifierSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.notifier_migrate_on_start:
            await migrate(settings.notifier_database_url)
        engine = create_engine(settings.notifier_database_url)
        redis = create_redis(settings.redis_url)
        http = httpx.AsyncClient()
        producer = create_producer(settings)
        database = Database(engine)
        clock = clock_from_settings(settings)
        registry = Registry()
        follower = RegistryFollower(settings, registry, redis)
        app.state.database, app.state.clock, app.state.registry = database, clock, registry
        app.state.registry_ready = follower.ready
        app.state.introspector = TokenIntrospector(
            http,
            base_url=settings.notifier_submission_url,
            cache_seconds=settings.notifier_token_cache_seconds,
        )
        # Who holds the lease, in logs and in the leases table.
        holder = f"{socket.gethostname()}:{os.getpid()}"
        digest_service = DigestService(
            database=database,
            redis=redis,
            registry=registry,
            lease_name=LEASE_NAME,
            holder=holder,
            backlog_limit_days=settings.notifier_backlog_limit_days,
        )
        app.state.digests = digest_service
        app.state.dependencies = [
            database_dependency(engine),
            redis_dependency(redis, settings),
            # Not required: email and webhooks still go out; the alerts topic catches up later.
            kafka_dependency(settings, required=False),
        ]
        webhook = (
            WebhookSender.from_settings(http, settings)
            if settings.notifier_webhook_secret
            else None
        )
        senders = Senders(email=EmailSender(settings), webhook=webhook, producer=None)
        runner = _runner(
            settings, database, redis, registry, follower, senders, clock, digest_service
        )
        app.state.runner = runner
        tasks = [asyncio.create_task(supervise(follower))]
        running: asyncio.Task[None] | None = None
        if runner is not None:
            running = asyncio.create_task(supervise(runner))
            tasks += [asyncio.create_task(_connect_producer(producer, senders)), running]
        log.info("service.started", port=settings.notifier_port, evaluating=runner is not None)
        try:
            yield
        finally:
            if runner is not None:
                await runner.stop()
                # Let the round in hand finish: cancelled between an SMTP send and its commit,
                # a delivery went out unrecorded and would go again after the restart. (Before
                # the registry is read, the runner waits for it and has no round in hand.)
                if follower.ready.is_set() and running is not None:
                    await asyncio.wait([running], timeout=ROUND_GRACE_SECONDS)
            await follower.stop()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await producer.stop()
            await http.aclose()
            await redis.aclose()
            await engine.dispose()
            log.info("service.stopped")

    app = build_app(
        service="notifier",
        title="Sáng kiến — notifier",
        description="Lag alerts to union heads: grouped, repeated, resolved, escalated and "
        "silenced; by email, webhook and the Kafka alerts topic. Weekly and monthly digests.",
        settings=settings,
        lifespan=lifespan,
        error_statuses=(400, 401, 403, 409, 415, 503),
        json_only=True,
    )
    auth.install(app)
    app.include_router(alerts.router)
    app.include_router(silences.router)
    app.include_router(digests.router)
    return app


def _runner(
    settings: NotifierSettings,
    database: Database,
    redis: Redis,
    registry: Registry,
    follower: RegistryFollower,
    senders: Senders,
    clock: Clock,
    digests: DigestService,
) -> NotifierRunner | None:
    if not settings.notifier_evaluate:
        return None
    holder = digests.holder
    return NotifierRunner(
        settings=settings,
        database=database,
        evaluator=Evaluator(
            database=database,
            redis=redis,
            registry=registry,
            policy=policy_from(settings),
            lease_name=LEASE_NAME,
            holder=holder,
            alerts_topic=settings.topic_alerts,
            backlog_limit_days=settings.notifier_backlog_limit_days,
        ),
        dispatcher=Dispatcher(
            database=database, senders=senders, lease_name=LEASE_NAME, holder=holder
        ),
        clock=clock,
        holder=holder,
        registry_ready=follower.ready,
        digests=digests,
    )


async def _connect_producer(producer: AIOKafkaProducer, senders: Senders) -> None:
    """Start the producer, retrying while Kafka is away; alert events wait (retried) till then,
    email and webhooks do not."""
    delay = 1.0
    while True:
        try:
            await producer.start()
        except KafkaError as error:
            log.warning("producer.unavailable", error=str(error), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        else:
            senders.producer = producer
            return
