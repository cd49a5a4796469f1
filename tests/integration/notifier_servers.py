"""Real servers for the notifier's channel tests: an SMTP server and an HTTP webhook receiver.

Each runs in a thread of its own on a loopback port the OS picks and records what it received.
Tests get them as the fixtures of ``notifier_fixtures`` (``pytest_plugins``); the context
managers here serve scripts and e2e tests too.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.settings import NotifierSettings

LOCALHOST = "127.0.0.1"
# Channel timeouts in the tests: long enough for loopback, short enough to keep tests fast.
TEST_TIMEOUT_SECONDS = 0.5
# How long the hanging webhook route holds a request: well past TEST_TIMEOUT_SECONDS.
HANG_SECONDS = 5.0
STARTUP_DEADLINE_SECONDS = 5.0


# --- SMTP -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedEmail:
    """One email as the SMTP server got it: envelope and parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class SmtpCatcher:
    """An SMTP server's address, the emails it accepted, and the recipients it refuses (550)."""

    host: str
    port: int
    emails: list[ReceivedEmail] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)

    def settings(self, **overrides: Any) -> NotifierSettings:
        """Notifier settings that send to this server, with the tests' short timeout."""
        values: dict[str, Any] = {
            "smtp_host": self.host,
            "smtp_port": self.port,
            "smtp_sender": "canh-bao@sangkien.test",
            "smtp_timeout_seconds": TEST_TIMEOUT_SECONDS,
        }
        return NotifierSettings(**(values | overrides))


class _CollectingHandler:
    """aiosmtpd handler: refuse the catcher's refused recipients, keep every message."""

    def __init__(self, catcher: SmtpCatcher) -> None:
        self._catcher = catcher

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self._catcher.refused:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""  # the bytes as sent, not re-decoded
        # SMTP carries CRLF line ends; a reader's mail client shows plain newlines.
        content = content.replace(b"\r\n", b"\n")
        message = email.message_from_bytes(content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self._catcher.emails.append(
            ReceivedEmail(str(envelope.mail_from), list(envelope.rcpt_tos), message)
        )
        return "250 Message accepted"


class _EphemeralPortController(Controller):
    """An aiosmtpd Controller on a port the OS picks (port 0): parallel runs never collide."""

    def _trigger_server(self) -> None:
        # Called once the server listens, before the controller's first connection to itself.
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@contextmanager
def running_smtp_server() -> Iterator[SmtpCatcher]:
    """A real SMTP server (aiosmtpd) on a free loopback port, collecting what it accepts."""
    catcher = SmtpCatcher(LOCALHOST, 0)
    controller = _EphemeralPortController(_CollectingHandler(catcher), hostname=LOCALHOST, port=0)
    controller.start()
    catcher.port = controller.port
    try:
        yield catcher
    finally:
        controller.stop()


# --- sockets that fail on purpose ------------------------------------------------------------


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port bound but not listening: connections are refused while it is held."""
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        yield sock.getsockname()[1]


@contextmanager
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (in its backlog) and never says a word."""
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        sock.listen(8)
        yield sock.getsockname()[1]


# --- webhooks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the webhook receiver got it: path, headers (lower-case names), raw body."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """A running webhook receiver: its base URL and the requests it recorded, in order."""

    base_url: str
    requests: list[ReceivedRequest] = field(default_factory=list)

    def url_answering(self, status: int) -> str:
        """A URL whose every POST is recorded and answered with ``status``."""
        return f"{self.base_url}/status/{status}"

    @property
    def hanging_url(self) -> str:
        """A URL that holds each POST for HANG_SECONDS before answering 200."""
        return f"{self.base_url}/hang"


def _receiver_app(receiver: WebhookReceiver) -> Starlette:
    async def record(request: Request) -> None:
        receiver.requests.append(
            ReceivedRequest(request.url.path, dict(request.headers), await request.body())
        )

    async def answer(request: Request) -> Response:
        await record(request)
        return Response(status_code=int(request.path_params["status"]))

    async def hang(request: Request) -> Response:
        await record(request)
        await asyncio.sleep(HANG_SECONDS)
        return Response(status_code=200)

    return Starlette(
        routes=[
            Route("/status/{status:int}", answer, methods=["POST"]),
            Route("/hang", hang, methods=["POST"]),
        ]
    )


@contextmanager
def running_webhook_receiver() -> Iterator[WebhookReceiver]:
    """A real HTTP server (uvicorn, in a thread) on a free loopback port, recording POSTs."""
    sock = socket.socket()
    sock.bind((LOCALHOST, 0))
    port = sock.getsockname()[1]
    receiver = WebhookReceiver(f"http://{LOCALHOST}:{port}")
    config = uvicorn.Config(
        _receiver_app(receiver),
        lifespan="off",
        log_level="warning",
        access_log=False,
        # The hanging route would hold shutdown for HANG_SECONDS; cut it short instead.
        timeout_graceful_shutdown=0.1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_until(lambda: server.started, what="webhook receiver start")
        yield receiver
    finally:
        server.should_exit = True
        thread.join(STARTUP_DEADLINE_SECONDS)
        sock.close()


def _wait_until(condition: Callable[[], bool], *, what: str) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} took over {STARTUP_DEADLINE_SECONDS}s")
        time.sleep(0.01)
