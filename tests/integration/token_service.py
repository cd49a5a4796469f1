"""The submission service over real HTTP, for tests of services that ask it about tokens.

The app runs in the test's own event loop (uvicorn serving the in-process submission world on
a free loopback port), so a test issues and revokes tokens through the same app the notifier
asks over TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from submission_world import World, running_world, submission_settings

from services.notifier.app import create_app as create_notifier
from services.submission.adapters.tables import UnitRow
from services.submission.domain.access import Principal, Role
from services.submission.schemas import UnitCreate
from services.submission.service import tokens, units
from shared.events import UnionLevel
from shared.settings import NotifierSettings

STARTUP_DEADLINE_SECONDS = 5.0


@dataclass
class TokenService:
    """The submission service's address and its world (app, client, seeded tokens)."""

    url: str
    world: World

    async def issue(
        self, role: str, scope: str, *, valid_for: timedelta = timedelta(days=1)
    ) -> tuple[str, str]:
        """A new token (its id and value) for ``role`` over ``scope``; a scope the submission
        service does not know is added as a root unit (the notifier tests have their own
        hierarchies, and only the scope's id travels with a token)."""
        system = Principal("test", "test", Role.ADMIN, scope)
        async with self.world.app.state.uow.transaction() as session:
            if await session.get(UnitRow, scope) is None:
                unit = UnitCreate(id=scope, level=UnionLevel.NATIONAL, name=f"Đơn vị {scope}")
                await units.create_unit(session, self.world.settings, system, unit)
                await session.flush()
            issued = await tokens.issue(
                session,
                role=Role(role),
                scope_union_id=scope,
                actor_id=f"{role}-test",
                label=f"{role} {scope}",
                valid_for=valid_for,
            )
        return issued.id, issued.token

    async def revoke(self, token_id: str) -> None:
        """Revoke a token at once, as ``DELETE /tokens/{id}`` does."""
        async with self.world.app.state.uow.transaction() as session:
            await tokens.revoke(session, token_id)


class _QuietServer(uvicorn.Server):
    """uvicorn inside a test: leaves the process's signal handlers to pytest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` (lifespan already running) over HTTP on a free loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False)
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(STARTUP_DEADLINE_SECONDS):
            while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, no event)
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@asynccontextmanager
async def token_service(tmp_path: Path, **overrides: Any) -> AsyncIterator[TokenService]:
    """The seeded submission world on a fresh SQLite file, served over HTTP."""
    settings = submission_settings(f"sqlite+aiosqlite:///{tmp_path}/tokens.db", **overrides)
    async with running_world(settings) as world, serving(world.app) as url:
        yield TokenService(url, world)


@asynccontextmanager
async def notifier_as_root_admin(
    settings: NotifierSettings, tmp_path: Path, root: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The notifier app with its lifespan running, asking a real token service, and a client
    in process with an admin token over ``root``, once the registry topic is read."""
    async with token_service(tmp_path) as tokens:
        _, admin = await tokens.issue("admin", root)
        app = create_notifier(settings.model_copy(update={"notifier_submission_url": tokens.url}))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://notifier",
                headers={"Authorization": f"Bearer {admin}"},
            ) as client,
        ):
            await asyncio.wait_for(app.state.registry_ready.wait(), 20)
            yield client
