"""Tokens expire and can be revoked, on the submission service and on the notifier, which asks
the submission service over HTTP and trusts an answer for SANGKIEN_NOTIFIER_TOKEN_CACHE_SECONDS.
Tokens keep real time, so these tests wait (on a condition, with a deadline) for seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from event_samples import ICT, union_event
from kafka_tools import publish_registry
from notifier_servers import SmtpCatcher, refusing_port
from submission_world import PROVINCE, ROOT
from token_service import TokenService, token_service

from services.notifier.app import create_app
from shared.events import UnionLevel
from shared.settings import CommonSettings

pytest_plugins = ["notifier_fixtures"]
pytestmark = pytest.mark.integration

CACHE_SECONDS = 0.5
DEADLINE_SECONDS = 10.0


@asynccontextmanager
async def notifier(
    settings: CommonSettings, tmp_path: Path, smtp: SmtpCatcher, submission_url: str, **extra: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The notifier app over the test's registry topic (Đắk Lắk under the root), asking
    ``submission_url`` about tokens; a client in process once the registry is read."""
    await publish_registry(
        settings,
        [
            union_event([ROOT], UnionLevel.NATIONAL),
            union_event([ROOT, PROVINCE], UnionLevel.PROVINCE),
        ],
    )
    values = settings.model_dump() | {
        "notifier_database_url": f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}",
        "notifier_submission_url": submission_url,
        "notifier_token_cache_seconds": CACHE_SECONDS,
        "notifier_evaluate": False,
        "clock_start": datetime(2022, 5, 24, 8, tzinfo=ICT),
        "clock_speed": 0,
    }
    app = create_app(smtp.settings(**(values | extra)))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as client:
            await asyncio.wait_for(app.state.registry_ready.wait(), 20)
            yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def statuses(service: TokenService, client: httpx.AsyncClient, token: str) -> tuple[int, int]:
    """What the submission service and the notifier answer the token now."""
    submission = await service.world.client.get("/tokens/self", headers=bearer(token))
    notifier = await client.get("/silences", headers=bearer(token))
    return submission.status_code, notifier.status_code


async def until_refused(service: TokenService, client: httpx.AsyncClient, token: str) -> float:
    """Seconds until both services answer 401, polling; fails after DEADLINE_SECONDS."""
    started = time.monotonic()
    while (seen := await statuses(service, client, token)) != (401, 401):
        assert time.monotonic() - started < DEADLINE_SECONDS, f"still {seen}"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_a_revoked_token_is_refused_by_both_services_within_the_cache_time(
    settings: CommonSettings, tmp_path: Path, smtp_server: SmtpCatcher
) -> None:
    async with token_service(tmp_path) as service:
        token_id, token = await service.issue("viewer", PROVINCE)
        async with notifier(settings, tmp_path, smtp_server, service.url) as client:
            before = await statuses(service, client, token)
            await service.revoke(token_id)
            submission_after = await service.world.client.get("/tokens/self", headers=bearer(token))
            waited = await until_refused(service, client, token)
            refused = await client.get("/silences", headers=bearer(token))

    assert before == (200, 200)
    assert submission_after.status_code == 401  # at once where the tokens live
    assert waited < CACHE_SECONDS + 2.0
    assert refused.json()["problems"][0]["rule"] == "bearer_token"
    assert refused.headers["www-authenticate"] == "Bearer"


async def test_an_expired_token_is_refused_by_both_services_at_its_expiry_despite_the_cache(
    settings: CommonSettings, tmp_path: Path, smtp_server: SmtpCatcher
) -> None:
    # A long cache: the expiry the submission service announced is applied all the same.
    async with (
        token_service(tmp_path) as service,
        notifier(
            settings, tmp_path, smtp_server, service.url, notifier_token_cache_seconds=3600
        ) as client,
    ):
        # Issued once the notifier is up: its start may take longer than the validity.
        _, token = await service.issue("viewer", PROVINCE, valid_for=timedelta(seconds=3))
        issued_at = time.monotonic()
        before = await statuses(service, client, token)
        await until_refused(service, client, token)
        refused_after = time.monotonic() - issued_at

    assert before == (200, 200)
    assert 2.0 < refused_after < 3.0 + 2.0


async def test_an_unknown_token_is_unauthorized_on_the_notifier(
    settings: CommonSettings, tmp_path: Path, smtp_server: SmtpCatcher
) -> None:
    async with (
        token_service(tmp_path) as service,
        notifier(settings, tmp_path, smtp_server, service.url) as client,
    ):
        refused = await client.get("/deliveries", headers=bearer("sk_khong-co-that"))
        missing = await client.get("/deliveries")

    assert (refused.status_code, missing.status_code) == (401, 401)
    assert refused.json()["error"] == "unauthorized"
    assert "bearer token is required" in missing.json()["message"]


async def test_the_notifier_refuses_with_503_naming_the_submission_service_when_it_is_away(
    settings: CommonSettings, tmp_path: Path, smtp_server: SmtpCatcher
) -> None:
    with refusing_port() as port:
        url = f"http://127.0.0.1:{port}"
        async with notifier(settings, tmp_path, smtp_server, url) as client:
            refused = await client.get("/deliveries", headers=bearer("sk_bat-ky"))
            public = await client.get("/alerts")

    assert refused.status_code == 503
    assert refused.json()["problems"][0]["rule"] == "submission_service"
    assert "submission service" in refused.json()["message"]
    assert url not in refused.text  # its internal address stays in the log
    assert public.status_code == 200  # public reads do not need the submission service
