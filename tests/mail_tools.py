"""Reading what the local mail catcher kept: one message a file in a Maildir's ``new/``."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path


def read_maildir(maildir: Path) -> list[EmailMessage]:
    """Every message the catcher received, oldest file name first."""
    folder = maildir / "new"
    if not folder.exists():
        return []
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for path in sorted(folder.iterdir())
    ]


def by_recipient(messages: list[EmailMessage]) -> dict[str, list[EmailMessage]]:
    """The messages by each address they were sent to."""
    found: dict[str, list[EmailMessage]] = {}
    for message in messages:
        for address in str(message["To"]).split(","):
            found.setdefault(address.strip().split("<")[-1].rstrip(">"), []).append(message)
    return found


def plain_text(messages: list[EmailMessage]) -> str:
    """The plain-text bodies of ``messages``, one after the other."""
    return "\n".join(m.get_body(("plain",)).get_content() for m in messages)  # type: ignore[union-attr]
