"""The outbox: events written in the transaction of the change they describe."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from services.submission.adapters.tables import OutboxRow, now
from shared.events import AnyEvent, encode, partition_key


def stage_event(session: AsyncSession, topic: str, event: AnyEvent) -> None:
    """Add ``event`` to the outbox; it is published after the session's transaction commits."""
    session.add(
        OutboxRow(
            event_id=str(event.event_id),
            topic=topic,
            key=partition_key(event).decode(),
            payload=encode(event).decode(),
            created_at=now(),
        )
    )
    session.info["outbox_staged"] = True
