"""A local mail catcher (aiosmtpd's Mailbox handler): the notifier's email goes somewhere real.

Every message lands, whole, in a Maildir under the stack's folder (``mail/new/``), where a mail
reader or ``cat`` shows it: docker-compose's Mailpit plays this part in a deployment.
"""

from __future__ import annotations

import smtplib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.launcher.process import Log, ManagedProcess, ensure_port_free, free_port


@dataclass
class MailCatcher:
    """A running SMTP server that keeps every message it receives."""

    port: int
    maildir: Path
    process: ManagedProcess

    def stop(self) -> None:
        """SIGTERM: the server closes its sockets and exits."""
        self.process.stop(grace=5)


def start_mail_catcher(*, workdir: Path, timeout: float = 20.0, log: Log = print) -> MailCatcher:
    """Start an SMTP server on a free loopback port that writes messages to ``workdir/mail``."""
    port = free_port()
    ensure_port_free(port, "mail catcher")
    maildir = workdir / "mail"
    maildir.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
            "-c", "aiosmtpd.handlers.Mailbox", str(maildir)]  # fmt: skip
    process = ManagedProcess("mail", argv, log_path=workdir / "logs" / "mail.log")
    started = time.monotonic()
    process.start()
    process.wait_ready(lambda: _answers(port), timeout=timeout, what="answering SMTP NOOP")
    log(f"mail: SMTP on 127.0.0.1:{port} in {time.monotonic() - started:.1f} s (kept in {maildir})")
    return MailCatcher(port, maildir, process)


def _answers(port: int) -> bool:
    with smtplib.SMTP("127.0.0.1", port, timeout=1) as client:
        return client.noop()[0] == 250
