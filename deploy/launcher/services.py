"""The three services as uvicorn processes, ready when /readyz says so."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from deploy.launcher.errors import LaunchError
from deploy.launcher.process import Log, ManagedProcess, ensure_port_free
from shared.settings import CommonSettings, NotifierSettings, ScoringSettings, SubmissionSettings

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ServiceSpec:
    """How to start one service: its app factory and the settings field of its port."""

    name: str
    factory: str
    settings: type[CommonSettings]

    @property
    def port_setting(self) -> str:
        """The settings field of the service's HTTP port."""
        return f"{self.name}_port"

    @property
    def default_port(self) -> int:
        """The port the service listens on unless told otherwise."""
        return int(self.settings.model_fields[self.port_setting].default)


SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        ServiceSpec("submission", "services.submission.app:create_app", SubmissionSettings),
        ServiceSpec("scoring", "services.scoring.app:create_app", ScoringSettings),
        ServiceSpec("notifier", "services.notifier.app:create_app", NotifierSettings),
    )
}


@dataclass
class ServiceProcess:
    """A running service."""

    name: str
    url: str
    process: ManagedProcess

    def stop(self) -> None:
        """SIGTERM: uvicorn drains requests and runs the app's shutdown."""
        self.process.stop(grace=15)


def start_service(
    name: str,
    *,
    port: int,
    env: dict[str, str],
    log_dir: Path,
    timeout: float = 60.0,
    log: Log = print,
) -> ServiceProcess:
    """Start one service with uvicorn; return once its /readyz answers 200."""
    spec = SERVICES.get(name)
    if spec is None:
        raise LaunchError(f"unknown service {name!r}; known: {', '.join(SERVICES)}")
    ensure_port_free(port, name)
    argv = [sys.executable, "-m", "uvicorn", "--factory", spec.factory,
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
            "--timeout-graceful-shutdown", "10"]  # fmt: skip
    process = ManagedProcess(name, argv, log_path=log_dir / f"{name}.log", env=env, cwd=REPO_ROOT)
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    process.start()
    process.wait_ready(
        lambda: httpx.get(f"{url}/readyz", timeout=2).status_code == 200,
        timeout=timeout,
        what="ready (GET /readyz)",
    )
    log(f"{name}: ready on {url} in {time.monotonic() - started:.1f} s")
    return ServiceProcess(name, url, process)
