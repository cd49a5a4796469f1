"""Where the running stack is: its services' addresses and the token the CLI acts with.

Read from the launcher's work folder (``stack.env`` and ``admin.token``), unless the environment
names them: ``SANGKIEN_SUBMISSION_URL``, ``SANGKIEN_SCORING_URL``, ``SANGKIEN_NOTIFIER_URL`` and
``SANGKIEN_TOKEN`` (for a stack run elsewhere, such as docker-compose).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deploy.cli.errors import CliError, ExitCode
from deploy.launcher.services import SERVICES
from shared.settings import env_name

DEFAULT_WORKDIR = Path("var/stack")


def read_env_file(path: Path) -> dict[str, str]:
    """The ``export NAME=value`` lines of a stack.env file."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        words = shlex.split(line)  # values are shell-quoted (a JSON list has quotes)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            env[name] = value
    return env


@dataclass(frozen=True)
class StackContext:
    """The addresses of the three services and the bearer token for the submission API."""

    urls: dict[str, str]
    token: str | None
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)  # stack.env: Kafka, Redis, secrets, clock
    # Some address came from the environment: a stack the launcher in ``workdir`` does not run.
    external: bool = False

    @classmethod
    def find(cls, workdir: Path = DEFAULT_WORKDIR) -> StackContext:
        """The stack the launcher runs in ``workdir``, with the environment's overrides."""
        env_file = workdir / "stack.env"
        env = read_env_file(env_file) if env_file.exists() else {}
        urls: dict[str, str] = {}
        external = False
        for name, spec in SERVICES.items():
            given = os.environ.get(f"SANGKIEN_{name.upper()}_URL")
            port = env.get(env_name(spec.port_setting))
            if given:
                urls[name] = given.rstrip("/")
                external = True
            elif port:
                urls[name] = f"http://127.0.0.1:{port}"
        token = os.environ.get("SANGKIEN_TOKEN")
        token_file = workdir / "admin.token"
        if token is None and token_file.exists():
            token = token_file.read_text().strip()
        return cls(urls=urls, token=token, workdir=workdir, env=env, external=external)

    def url(self, service: str) -> str:
        """The base URL of ``service``, or a CliError saying how to start the stack."""
        if service not in self.urls:
            raise CliError(
                f"no running stack found in {self.workdir} (no {service} address): start one "
                f"with `sangkien stack up`, or set SANGKIEN_{service.upper()}_URL",
                ExitCode.UNREACHABLE,
            )
        return self.urls[service]

    def client(
        self, service: str, *, token: str | None = None, timeout: float = 30.0
    ) -> httpx.Client:
        """An HTTP client for ``service``, acting with ``token`` (default: the stack's admin
        token), which goes to the submission service only: the others need none, and a token
        is not sent where it is not needed."""
        token = token or self.token
        wants_token = token and service == "submission"
        headers = {"Authorization": f"Bearer {token}"} if wants_token else {}
        return httpx.Client(
            base_url=self.url(service), headers=headers, timeout=timeout, transport=_transport()
        )


def _transport() -> httpx.HTTPTransport:
    return httpx.HTTPTransport(retries=2)  # a connection refused while a service restarts
