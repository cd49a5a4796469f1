"""A notifier stopped (SIGTERM) while it sends lets the round in hand finish: what it sent is
recorded as sent, so its successor does not send it again."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from event_samples import ICT
from notifier_servers import SmtpCatcher
from test_notifier_api import notifier_settings

from services.notifier.adapters.email import EmailMessage, EmailSender
from services.notifier.adapters.tables import DeliveryRow
from services.notifier.app import create_app
from services.notifier.service import outbox
from shared.events import AlertChannel
from shared.settings import CommonSettings

pytest_plugins = ["notifier_fixtures"]
pytestmark = pytest.mark.integration


async def test_a_stop_mid_send_records_what_was_sent(
    settings: CommonSettings,
    tmp_path: Path,
    smtp_server: SmtpCatcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = asyncio.Event()
    send = EmailSender.send

    async def send_then_linger(self: EmailSender, message: EmailMessage) -> None:
        await send(self, message)
        sent.set()
        await asyncio.sleep(0.5)  # the stop arrives between the send and its record

    monkeypatch.setattr(EmailSender, "send", send_then_linger)
    config = notifier_settings(tmp_path, settings, smtp_server, notifier_tick_seconds=0.05)
    app = create_app(config)
    async with app.router.lifespan_context(app):
        row = outbox.pending(
            at=datetime(2022, 5, 24, 8, tzinfo=ICT),
            campaign_id="dot-cao-diem",
            recipient_id="cdcs-thpt-bmt",
            channel=AlertChannel.EMAIL,
            destination="chu-tich@cdcs.test",
            subject="Cảnh báo chậm tiến độ",
            text="Đơn vị đang chậm so với tiến độ.",
        )
        async with app.state.database.transaction() as session:
            session.add(DeliveryRow(**row))
        await asyncio.wait_for(sent.wait(), 30)
    # The lifespan has run its shutdown: the app is stopped.

    with sqlite3.connect(tmp_path / "notifier.db") as db:
        [(status,)] = db.execute("SELECT status FROM deliveries WHERE id = ?", (row["id"],))
    assert len(smtp_server.emails) == 1
    assert status == "sent"
