"""One transaction per use case; the relay is woken once events it must publish are committed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.database import Database


class UnitOfWork(Database):
    """Opens sessions on one engine; ``transaction()`` commits on success, rolls back on error."""

    def __init__(self, engine: AsyncEngine, *, on_events_committed: Callable[[], None]) -> None:
        super().__init__(engine)
        self._on_events_committed = on_events_committed

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction, committed when the block ends without error."""
        async with super().transaction() as session:
            yield session
        if session.info.get("outbox_staged"):
            self._on_events_committed()
