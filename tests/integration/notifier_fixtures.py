"""Fixtures of the notifier's channel tests: a real SMTP server and a real webhook receiver.

Load them in a test module with ``pytest_plugins = ["notifier_fixtures"]``; each test gets
servers of its own (see ``notifier_servers``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from notifier_servers import (
    SmtpCatcher,
    WebhookReceiver,
    running_smtp_server,
    running_webhook_receiver,
)


@pytest.fixture
def smtp_server() -> Iterator[SmtpCatcher]:
    """A real SMTP server on a free loopback port, collecting the emails it accepts."""
    with running_smtp_server() as catcher:
        yield catcher


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A real HTTP server on a free loopback port, recording the webhook POSTs it gets."""
    with running_webhook_receiver() as receiver:
        yield receiver
