"""The whole local stack: infrastructure first, then the services, stopped in reverse order."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Protocol

from deploy.launcher.errors import LaunchError
from deploy.launcher.kafka import KafkaServer, start_kafka
from deploy.launcher.postgres import PostgresServer, start_postgres
from deploy.launcher.process import Log, ManagedProcess, ensure_port_free, free_port, run_coroutine
from deploy.launcher.redis import RedisServer, start_redis
from deploy.launcher.services import SERVICES, ServiceProcess, start_service
from shared.kafka.topics import ensure_topics, topic_specs
from shared.settings import CommonSettings, env_name


class _Component(Protocol):
    process: ManagedProcess

    def stop(self) -> None: ...


class LocalStack:
    """Starts Kafka, Redis, PostgreSQL and the services; ``stop`` undoes all of it."""

    def __init__(self, workdir: Path, *, log: Log = print) -> None:
        self.workdir = workdir
        self.log = log
        self.kafka: KafkaServer | None = None
        self.redis: RedisServer | None = None
        self.postgres: PostgresServer | None = None
        self.services: dict[str, ServiceProcess] = {}
        self._started: list[tuple[str, _Component]] = []

    def start_infrastructure(self, *, postgres: bool = False, persistent: bool = True) -> None:
        """Kafka (with the system's topics) and Redis; PostgreSQL when asked."""
        self.kafka = start_kafka(workdir=self.workdir / "kafka", log=self.log)
        self._started.append(("kafka", self.kafka))
        self.create_topics()
        self.redis = start_redis(
            workdir=self.workdir / "redis", persistent=persistent, log=self.log
        )
        self._started.append(("redis", self.redis))
        if postgres:
            self.postgres = start_postgres(log=self.log)
            self._started.append(("postgres", self.postgres))

    def create_topics(self) -> None:
        """Create the system's topics on the stack's broker."""
        assert self.kafka is not None
        settings = CommonSettings(kafka_bootstrap_servers=self.kafka.bootstrap_servers)
        created = run_coroutine(
            lambda: ensure_topics(settings.kafka_servers, topic_specs(settings))
        )
        if created:
            self.log(f"kafka: created topics {', '.join(created)}")

    def service_env(self, ports: dict[str, int]) -> dict[str, str]:
        """The SANGKIEN_* variables that point the services at this stack."""
        if self.kafka is None or self.redis is None:
            raise LaunchError("start the infrastructure before the services")
        env = {
            env_name("submission_person_key_secret"): self._secret("person-key.secret"),
            env_name("kafka_bootstrap_servers"): self.kafka.bootstrap_servers,
            env_name("redis_url"): self.redis.url,
            env_name(
                "submission_database_url"
            ): f"sqlite+aiosqlite:///{self.workdir}/submission.db",
            env_name("notifier_database_url"): f"sqlite+aiosqlite:///{self.workdir}/notifier.db",
        }
        for name, port in ports.items():
            env[env_name(SERVICES[name].port_setting)] = str(port)
        return env

    def _secret(self, name: str) -> str:
        """A random secret made on the first run and kept in the work folder (mode 0600)."""
        path = self.workdir / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def start_services(self, names: list[str], *, preferred_ports: dict[str, int]) -> None:
        """Start the named services, each on its preferred port when free, else a free one."""
        ports = {name: _port_or_free(preferred_ports.get(name)) for name in names}
        env = {**os.environ, **self.service_env(ports)}
        for name in names:
            service = start_service(
                name, port=ports[name], env=env, log_dir=self.workdir / "logs", log=self.log
            )
            self.services[name] = service
            self._started.append((name, service))

    def admin_token(self) -> Path:
        """A file holding an admin token over the whole hierarchy, issued on the first run
        (which also creates the national root unit)."""
        path = self.workdir / "admin.token"
        database = self.workdir / "submission.db"
        if path.exists() and database.exists():
            return path
        ports = {name: int(s.url.rsplit(":", 1)[1]) for name, s in self.services.items()}
        command = ["tokens", "issue", "--role", "admin", "--scope", "tong-ldld-vn"]
        command += ["--actor", "quan-tri", "--valid-days", "0", "--label", "local stack admin"]
        command += ["--create-root", "Tổng Liên đoàn Lao động Việt Nam"]
        result = subprocess.run(
            [sys.executable, "-m", "services.submission.cli", *command],
            env={**os.environ, **self.service_env(ports)},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise LaunchError(f"could not issue the admin token:\n{result.stderr[-2000:]}")
        path.touch(mode=0o600)
        path.write_text(result.stdout.strip().splitlines()[-1] + "\n")
        self.log(f"submission: admin token for the whole hierarchy in {path}")
        return path

    def dead(self) -> list[str]:
        """Names of started components whose process has exited."""
        return [name for name, part in self._started if not part.process.running()]

    def stop(self) -> None:
        """Stop everything that was started, newest first."""
        while self._started:
            name, part = self._started.pop()
            self.log(f"{name}: stopping")
            part.stop()


def _port_or_free(port: int | None) -> int:
    """``port`` if nothing listens on it, otherwise any free port."""
    if port is None:
        return free_port()
    try:
        ensure_port_free(port, "service")
        return port
    except LaunchError:
        return free_port()
