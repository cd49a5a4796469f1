"""The notifier's channels against real servers: an SMTP server and an HTTP webhook receiver.

One attempt per call: delivered, or a DeliveryError that says whether to try again.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from notifier_servers import (
    HANG_SECONDS,
    TEST_TIMEOUT_SECONDS,
    SmtpCatcher,
    WebhookReceiver,
    refusing_port,
    silent_port,
)
from pydantic import SecretStr

from services.notifier.adapters.delivery_errors import DeliveryError
from services.notifier.adapters.email import EmailMessage, EmailSender
from services.notifier.adapters.webhook import WebhookSender
from services.notifier.domain.signing import verify
from shared.settings import NotifierSettings

pytest_plugins = ["notifier_fixtures"]
pytestmark = pytest.mark.integration

SECRET = "whsec-test-0123456789abcdef0123456789"
HEAD = "chu-tich@ldld-buon-ma-thuot.vn"
ALERT = EmailMessage(
    to=HEAD,
    subject="Cảnh báo: LĐLĐ TP. Buôn Ma Thuột chậm tiến độ phong trào sáng kiến",
    text="Đã đăng ký 696/2.500 sáng kiến (27,84%), dưới mức cần đạt theo tiến độ.",
    html="<p>Đã đăng ký <b>696</b>/2.500 sáng kiến (27,84%).</p>",
    headers={"Message-ID": "<delivery-7f3a@sangkien.test>"},
)
PAYLOAD: dict[str, object] = {
    "type": "alert.raised.v1",
    "union_id": "ldld-dak-lak",
    "union_name": "LĐLĐ tỉnh Đắk Lắk",
    "counted": 696,
    "target": 2500,
}


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def webhooks(http_client: httpx.AsyncClient) -> WebhookSender:
    return WebhookSender(
        http_client, secret=SecretStr(SECRET), timeout_seconds=TEST_TIMEOUT_SECONDS
    )


# --- email ----------------------------------------------------------------------------------


async def test_email_arrives_with_vietnamese_subject_text_and_html(
    smtp_server: SmtpCatcher,
) -> None:
    await EmailSender(smtp_server.settings()).send(ALERT)

    [received] = smtp_server.emails
    message = received.message
    assert received.mail_from == "canh-bao@sangkien.test"
    assert received.rcpt_tos == [HEAD]
    assert message["Subject"] == ALERT.subject
    assert message["To"] == HEAD
    assert message["Message-ID"] == "<delivery-7f3a@sangkien.test>"
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().rstrip("\n") == ALERT.text
    assert html.get_content().rstrip("\n") == ALERT.html


async def test_email_without_html_is_plain_text_only(smtp_server: SmtpCatcher) -> None:
    message = EmailMessage(to=HEAD, subject="Tổng hợp tuần", text="Tuần này: 120 sáng kiến.")

    await EmailSender(smtp_server.settings()).send(message)

    [received] = smtp_server.emails
    assert received.message.get_content_type() == "text/plain"
    assert received.message.get_content().rstrip("\n") == message.text


async def test_email_gets_a_message_id_when_none_is_given(smtp_server: SmtpCatcher) -> None:
    await EmailSender(smtp_server.settings()).send(EmailMessage(HEAD, "Nhắc việc", "Nội dung"))

    [received] = smtp_server.emails
    assert received.message["Message-ID"].endswith("@sangkien.test>")


async def test_refused_recipient_is_not_retryable(smtp_server: SmtpCatcher) -> None:
    smtp_server.refused.add(HEAD)

    with pytest.raises(DeliveryError, match="recipient refused") as caught:
        await EmailSender(smtp_server.settings()).send(ALERT)

    assert not caught.value.retryable
    assert HEAD in caught.value.message
    assert not smtp_server.emails


async def test_unreachable_smtp_server_is_a_retryable_connection_error() -> None:
    with refusing_port() as port:
        settings = NotifierSettings(smtp_host="127.0.0.1", smtp_port=port)

        with pytest.raises(DeliveryError, match="connection failed") as caught:
            await EmailSender(settings).send(ALERT)

    assert caught.value.retryable


async def test_silent_smtp_server_is_a_retryable_timeout() -> None:
    with silent_port() as port:
        settings = NotifierSettings(
            smtp_host="127.0.0.1", smtp_port=port, smtp_timeout_seconds=TEST_TIMEOUT_SECONDS
        )
        started = time.monotonic()

        with pytest.raises(DeliveryError, match="timeout") as caught:
            await EmailSender(settings).send(ALERT)

    assert caught.value.retryable
    assert time.monotonic() - started < TEST_TIMEOUT_SECONDS * 3


async def test_header_with_a_line_break_is_not_retryable() -> None:
    message = EmailMessage(to=HEAD, subject="Cảnh báo\r\nBcc: all@example.com", text="x")

    with pytest.raises(DeliveryError, match="invalid email") as caught:
        await EmailSender(NotifierSettings()).send(message)

    assert not caught.value.retryable


# --- webhook --------------------------------------------------------------------------------


async def test_webhook_posts_the_payload_as_compact_utf8_json(
    webhooks: WebhookSender, webhook_receiver: WebhookReceiver
) -> None:
    await webhooks.send(webhook_receiver.url_answering(204), PAYLOAD, delivery_id="d-1")

    [request] = webhook_receiver.requests
    assert json.loads(request.body) == PAYLOAD
    assert "LĐLĐ tỉnh Đắk Lắk".encode() in request.body
    assert b", " not in request.body and b": " not in request.body
    assert request.headers["content-type"] == "application/json"


async def test_webhook_headers_carry_delivery_id_and_a_signature_receivers_accept(
    webhooks: WebhookSender, webhook_receiver: WebhookReceiver
) -> None:
    await webhooks.send(webhook_receiver.url_answering(200), PAYLOAD, delivery_id="d-2")

    [request] = webhook_receiver.requests
    headers = request.headers
    assert headers["x-sangkien-delivery"] == "d-2"
    assert abs(int(headers["x-sangkien-timestamp"]) - time.time()) < 5
    assert headers["x-sangkien-signature"].startswith("sha256=")
    assert verify(
        SECRET.encode(),
        request.body,
        headers["x-sangkien-timestamp"],
        headers["x-sangkien-signature"],
        now=int(time.time()),
    )


async def test_webhook_retry_sends_the_same_delivery_id(
    webhooks: WebhookSender, webhook_receiver: WebhookReceiver
) -> None:
    for _ in range(2):
        await webhooks.send(webhook_receiver.url_answering(200), PAYLOAD, delivery_id="d-3")

    assert [r.headers["x-sangkien-delivery"] for r in webhook_receiver.requests] == ["d-3"] * 2


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(500, True), (503, True), (408, True), (429, True), (400, False), (404, False)],
)
async def test_webhook_error_answer_says_whether_to_retry(
    webhooks: WebhookSender, webhook_receiver: WebhookReceiver, status: int, retryable: bool
) -> None:
    with pytest.raises(DeliveryError, match=f"answered {status}") as caught:
        await webhooks.send(webhook_receiver.url_answering(status), PAYLOAD, delivery_id="d-4")

    assert caught.value.retryable is retryable


async def test_hanging_receiver_is_a_retryable_timeout_at_the_deadline(
    webhooks: WebhookSender, webhook_receiver: WebhookReceiver
) -> None:
    started = time.monotonic()

    with pytest.raises(DeliveryError, match="timeout") as caught:
        await webhooks.send(webhook_receiver.hanging_url, PAYLOAD, delivery_id="d-5")

    elapsed = time.monotonic() - started
    assert caught.value.retryable
    assert TEST_TIMEOUT_SECONDS * 0.9 < elapsed < min(TEST_TIMEOUT_SECONDS * 3, HANG_SECONDS)


async def test_unreachable_receiver_is_a_retryable_connection_error(
    webhooks: WebhookSender,
) -> None:
    with refusing_port() as port, pytest.raises(DeliveryError, match="connection") as caught:
        await webhooks.send(f"http://127.0.0.1:{port}/hook", PAYLOAD, delivery_id="d-6")

    assert caught.value.retryable


async def test_webhook_url_of_another_scheme_is_not_retryable(webhooks: WebhookSender) -> None:
    with pytest.raises(DeliveryError, match="invalid webhook URL") as caught:
        await webhooks.send("ftp://example.com/hook", PAYLOAD, delivery_id="d-7")

    assert not caught.value.retryable


async def test_webhook_sender_refuses_to_be_built_without_a_secret(
    http_client: httpx.AsyncClient,
) -> None:
    with pytest.raises(ValueError, match="SANGKIEN_NOTIFIER_WEBHOOK_SECRET is not set"):
        WebhookSender.from_settings(http_client, NotifierSettings(notifier_webhook_secret=None))
