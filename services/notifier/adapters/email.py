"""Alert emails over SMTP: one attempt per call; the notifier's delivery log does the retries."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid

import aiosmtplib

from services.notifier.adapters.delivery_errors import DeliveryError
from shared.settings import NotifierSettings


@dataclass(frozen=True)
class EmailMessage:
    """One email to one address: plain text, and HTML as an alternative when given."""

    to: str
    subject: str
    text: str
    html: str | None = None
    # Extra headers, e.g. a stable Message-ID per delivery, so that a retry after a lost reply
    # is recognisable as the same email.
    headers: dict[str, str] = field(default_factory=dict)


class EmailSender:
    """Sends :class:`EmailMessage` through the configured SMTP server."""

    def __init__(self, settings: NotifierSettings) -> None:
        self._settings = settings

    async def send(self, message: EmailMessage) -> None:
        """Hand the message to the SMTP server once; :class:`DeliveryError` when it fails."""
        mime = self._mime(message)
        s = self._settings
        password = s.smtp_password.get_secret_value() if s.smtp_password else None
        try:
            await aiosmtplib.send(
                mime,
                sender=s.smtp_sender,
                recipients=[message.to],
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=password if s.smtp_username else None,
                start_tls=s.smtp_starttls,
                timeout=s.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPException as error:
            raise _delivery_error(error, s) from error
        except OSError as error:  # e.g. the host name does not resolve
            raise DeliveryError(f"SMTP connection failed: {error}", retryable=True) from error

    def _mime(self, message: EmailMessage) -> MimeMessage:
        """The MIME message: UTF-8 text, multipart/alternative when there is HTML."""
        mime = MimeMessage()
        try:
            mime["From"] = self._settings.smtp_sender
            mime["To"] = message.to
            mime["Subject"] = message.subject
            for name, value in message.headers.items():
                mime[name] = value
            if "Message-ID" not in mime:
                mime["Message-ID"] = make_msgid(domain=self._settings.smtp_sender.split("@")[-1])
            # The stdlib picks utf-8 for non-ASCII text, with a transfer encoding that survives
            # 7-bit servers; Vietnamese subjects are RFC 2047 encoded.
            mime.set_content(message.text)
            if message.html is not None:
                mime.add_alternative(message.html, subtype="html")
        except ValueError as error:  # a header with a line break, an unparsable address
            raise DeliveryError(f"invalid email: {error}", retryable=False) from error
        return mime


def _delivery_error(error: aiosmtplib.SMTPException, settings: NotifierSettings) -> DeliveryError:
    """Name the SMTP failure and say whether another attempt can succeed."""
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    if isinstance(error, aiosmtplib.SMTPTimeoutError):
        return DeliveryError(
            f"SMTP timeout after {settings.smtp_timeout_seconds}s at {where}", retryable=True
        )
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{r.recipient} ({r.code} {r.message})" for r in error.recipients)
        # 4xx is "not now" (mailbox busy, greylisting), 5xx "never" (no such user).
        temporary = all(400 <= r.code < 500 for r in error.recipients)
        return DeliveryError(f"SMTP recipient refused: {refused}", retryable=temporary)
    if isinstance(error, aiosmtplib.SMTPAuthenticationError | aiosmtplib.SMTPSenderRefused):
        # Our login or From address: every email fails until the configuration is fixed, and
        # then this one can go.
        return DeliveryError(
            f"SMTP refused our login or sender at {where}: {error.code} {error.message}",
            retryable=True,
        )
    if isinstance(error, aiosmtplib.SMTPDataError):
        return DeliveryError(
            f"SMTP refused the message: {error.code} {error.message}",
            retryable=400 <= error.code < 500,
        )
    if isinstance(error, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected):
        return DeliveryError(f"SMTP connection failed: {error}", retryable=True)
    return DeliveryError(f"SMTP error at {where}: {error}", retryable=True)
