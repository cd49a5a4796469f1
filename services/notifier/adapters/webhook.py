"""Alert webhooks: one signed HTTP POST per call; the notifier's delivery log does the retries.

The signature scheme, and how a receiver checks it, is in
:mod:`services.notifier.domain.signing`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import httpx
from pydantic import SecretStr

from services.notifier.adapters.delivery_errors import DeliveryError
from services.notifier.domain.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)
from shared.settings import NotifierSettings, env_name

# A request timed out (408) or was throttled (429): the receiver asks us to come back later.
RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})
# Enough of a refusing receiver's answer to say why in the delivery log.
ANSWER_EXCERPT_CHARS = 200


class WebhookSender:
    """POSTs JSON payloads, signed with the shared secret, to the union heads' webhook URLs."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        secret: SecretStr | None,
        timeout_seconds: float,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """Refuse to exist without a secret: an unsigned webhook cannot be trusted by anyone.

        ``wall_clock`` is real time on purpose, not the campaign clock (which tests and replays
        speed up): receivers compare the signed timestamp with their own clocks.
        """
        if secret is None or not secret.get_secret_value():
            raise ValueError(
                f"{env_name('notifier_webhook_secret')} is not set: webhooks are signed with "
                "it, so none can be sent without it"
            )
        self._client = client
        self._secret = secret.get_secret_value().encode()
        self._timeout = timeout_seconds
        self._wall_clock = wall_clock

    @classmethod
    def from_settings(cls, client: httpx.AsyncClient, settings: NotifierSettings) -> WebhookSender:
        """The sender the notifier's settings describe."""
        return cls(
            client,
            secret=settings.notifier_webhook_secret,
            timeout_seconds=settings.notifier_webhook_timeout_seconds,
        )

    async def send(self, url: str, payload: dict[str, object], *, delivery_id: str) -> None:
        """POST the payload once; return on 2xx, raise :class:`DeliveryError` otherwise."""
        # Compact UTF-8 JSON; these exact bytes are signed and sent (a receiver verifies the
        # raw body, so the body must not be re-encoded after signing).
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(self._wall_clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "sangkien-notifier",
            DELIVERY_HEADER: delivery_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        response = await self._post(url, body, headers)
        _check_status(response)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        try:
            # httpx's timeout bounds each phase (connect, each read); the outer one bounds the
            # whole exchange, so a receiver trickling its answer cannot hold a sender longer.
            async with asyncio.timeout(self._timeout):
                return await self._client.post(
                    url,
                    content=body,
                    headers=headers,
                    timeout=self._timeout,
                    # The signed payload goes only to the URL the head registered.
                    follow_redirects=False,
                )
        except (TimeoutError, httpx.TimeoutException) as error:
            raise DeliveryError(
                f"webhook timeout after {self._timeout}s", retryable=True
            ) from error
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
            raise DeliveryError(
                f"invalid webhook URL: {type(error).__name__}", retryable=False
            ) from error
        except httpx.RequestError as error:
            raise DeliveryError(
                f"webhook connection failed: {type(error).__name__}: {error}", retryable=True
            ) from error


def _check_status(response: httpx.Response) -> None:
    """Return on 2xx; otherwise say what the receiver answered and whether to try again."""
    status = response.status_code
    if 200 <= status < 300:
        return
    retryable = status >= 500 or status in RETRYABLE_CLIENT_ERRORS
    excerpt = response.text[:ANSWER_EXCERPT_CHARS]
    # 3xx included: redirects are not followed, and the head's URL needs correcting.
    raise DeliveryError(
        f"webhook answered {status} {response.reason_phrase}: {excerpt}",
        retryable=retryable,
    )
