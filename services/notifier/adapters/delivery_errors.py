"""The one error a channel raises when a delivery attempt fails."""

from __future__ import annotations


class DeliveryError(Exception):
    """A delivery attempt failed; ``retryable`` says whether trying again later can succeed.

    Retryable: the server or the network failed (refused connection, timeout, 5xx, a 4xx SMTP
    reply) or our own configuration did (SMTP login, sender): the same message can go through
    once that is fixed. Not retryable: the receiver refused this message for good (unknown
    recipient, a 4xx webhook answer), so sending it again would fail the same way.
    """

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable

    def __repr__(self) -> str:
        return f"DeliveryError({self.message!r}, retryable={self.retryable})"
