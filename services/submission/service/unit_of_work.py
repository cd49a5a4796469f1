"""One transaction per use case; the relay is woken once events it must publish are committed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.database import WRITE_OPTION


class UnitOfWork:
    """Opens sessions on one engine; ``transaction()`` commits on success, rolls back on error."""

    def __init__(self, engine: AsyncEngine, *, on_events_committed: Callable[[], None]) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        self._on_events_committed = on_events_committed

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction, committed when the block ends without error."""
        async with self._sessions() as session, session.begin():
            await session.connection(execution_options={WRITE_OPTION: True})
            yield session
        if session.info.get("outbox_staged"):
            self._on_events_committed()

    @asynccontextmanager
    async def read_only(self) -> AsyncIterator[AsyncSession]:
        """A session for queries; nothing it does is committed."""
        async with self._sessions() as session:
            yield session
