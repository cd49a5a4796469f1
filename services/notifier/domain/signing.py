"""Webhook signatures: how the notifier signs a delivery and how a receiver checks it.

Every webhook POST carries three headers:

- ``X-Sangkien-Delivery``: the delivery's id. A retry sends the same id again (with a new
  timestamp and signature), so a receiver that remembers the ids it has handled does each
  delivery once.
- ``X-Sangkien-Timestamp``: Unix seconds when this attempt was signed.
- ``X-Sangkien-Signature``: ``sha256=`` and the hex HMAC-SHA256, under the shared secret, of
  ``f"{timestamp}.".encode() + body``, where body is the raw bytes of the request body.

The timestamp is inside the signed bytes so that a captured request cannot be replayed later:
changing the timestamp breaks the signature, and a receiver refuses timestamps more than five
minutes from its own clock. A receiver checks the exact bytes it received, before parsing the
JSON, for example in Starlette or FastAPI::

    body = await request.body()
    ok = verify(
        secret, body,
        request.headers.get(TIMESTAMP_HEADER, ""), request.headers.get(SIGNATURE_HEADER, ""),
        now=int(time.time()),
    )
    if not ok:
        return Response(status_code=401)

Answer 2xx once the delivery is stored; 4xx (but 408 and 429) means "never send this again";
5xx, 408, 429 or no answer within the timeout means "try again later".
"""

from __future__ import annotations

import hashlib
import hmac

DELIVERY_HEADER = "X-Sangkien-Delivery"
TIMESTAMP_HEADER = "X-Sangkien-Timestamp"
SIGNATURE_HEADER = "X-Sangkien-Signature"
SCHEME = "sha256="
# Five minutes absorbs clock skew between the notifier and a receiver, yet a replayed request
# is refused soon after it was captured.
DEFAULT_TOLERANCE_SECONDS = 300


def signed_bytes(timestamp: int, body: bytes) -> bytes:
    """The bytes the signature covers: the timestamp, a dot, then the body."""
    return f"{timestamp}.".encode() + body


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Sangkien-Signature`` header value for a body sent at ``timestamp``."""
    digest = hmac.new(secret, signed_bytes(timestamp, body), hashlib.sha256).hexdigest()
    return SCHEME + digest


def verify(
    secret: bytes,
    body: bytes,
    timestamp_header: str,
    signature_header: str,
    *,
    now: int,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """Whether the headers sign this body with this secret, at a time close enough to now."""
    timestamp = _parse_timestamp(timestamp_header)
    if timestamp is None or abs(now - timestamp) > tolerance_seconds:
        return False
    if not signature_header.isascii():
        return False
    expected = sign(secret, timestamp, body)
    # Constant time: a byte-by-byte compare would tell an attacker how much of a guess is right.
    return hmac.compare_digest(expected, signature_header)


def _parse_timestamp(header: str) -> int | None:
    # Digits only: int() would also take " 12", "+12" and "1_2", which the sender never writes.
    # Twelve digits reach the year 33658; more is not a timestamp.
    if not (header.isascii() and header.isdigit() and len(header) <= 12):
        return None
    return int(header)
