"""The whole local stack: infrastructure first, then the services, stopped in reverse order.

``run_stack`` is the run command itself (``python -m deploy.launcher up`` and ``sangkien stack
up``); its work folder records the running launcher in ``launcher.pid`` and the stack's
addresses in ``stack.env``.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Protocol

from deploy.launcher.errors import LaunchError
from deploy.launcher.kafka import KafkaServer, start_kafka
from deploy.launcher.mail import MailCatcher, start_mail_catcher
from deploy.launcher.postgres import PostgresServer, start_postgres
from deploy.launcher.process import Log, ManagedProcess, ensure_port_free, free_port, run_coroutine
from deploy.launcher.redis import RedisServer, start_redis
from deploy.launcher.services import REPO_ROOT, SERVICES, ServiceProcess, start_service
from shared.kafka.topics import ensure_topics, topic_specs
from shared.settings import CommonSettings, env_name

ENV_FILE = "stack.env"
PID_FILE = "launcher.pid"


class _Component(Protocol):
    process: ManagedProcess

    def stop(self) -> None: ...


class LocalStack:
    """Starts Kafka, Redis, PostgreSQL and the services; ``stop`` undoes all of it."""

    def __init__(
        self, workdir: Path, *, log: Log = print, settings: dict[str, str] | None = None
    ) -> None:
        self.workdir = workdir
        self.log = log
        # SANGKIEN_* variables for every service on top of the stack's own (a simulated clock).
        self.settings = settings or {}
        self.mail: MailCatcher | None = None
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
        self.mail = start_mail_catcher(workdir=self.workdir, log=self.log)
        self._started.append(("mail", self.mail))
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
        if self.mail is not None:
            env[env_name("smtp_host")] = "127.0.0.1"
            env[env_name("smtp_port")] = str(self.mail.port)
        for name, port in ports.items():
            env[env_name(SERVICES[name].port_setting)] = str(port)
        if "submission" in ports:  # the notifier asks it who a bearer token belongs to
            env[env_name("notifier_submission_url")] = f"http://127.0.0.1:{ports['submission']}"
        env.update(_dashboard_env(ports))
        env.update(self.settings)
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
        if path.exists() and (self.workdir / "submission.db").exists():
            return path
        ports = {name: int(s.url.rsplit(":", 1)[1]) for name, s in self.services.items()}
        issue_admin_token(path, {**os.environ, **self.service_env(ports)})
        self.log(f"submission: admin token for the whole hierarchy in {path}")
        return path

    def write_env_file(self) -> Path:
        """``stack.env``: the SANGKIEN_* variables that point at this stack, for the CLI, the
        tests and a shell (``source``)."""
        ports = {name: int(s.url.rsplit(":", 1)[1]) for name, s in self.services.items()}
        path = self.workdir / ENV_FILE
        env = self.service_env(ports)
        # Private (it holds the person-key secret) and whole: a reader never sees half of it.
        write_private(path, "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()))
        return path

    def kill(self, name: str) -> None:
        """SIGKILL one started component (``kafka``, ``redis``, ``mail`` or a service) and reap
        it: a crash, with no shutdown of any kind (fault tests)."""
        process = self._component(name).process
        if process.popen is not None and process.running():
            os.kill(process.popen.pid, signal.SIGKILL)
            process.popen.wait(timeout=30)

    def restart(self, name: str) -> None:
        """Start a component that has exited again in place: the same port, the same data
        folder (Redis keeps what its append-only file holds; wipe the folder first to lose it).

        Call it from a thread that lives as long as the stack: the kernel sends a child SIGTERM
        when the thread that started it exits (PR_SET_PDEATHSIG), not only the process."""
        old = self._component(name)
        if old.process.running():
            raise LaunchError(f"{name} is still running: stop or kill it first")
        fresh: _Component
        if name == "kafka" and self.kafka is not None:
            port = int(self.kafka.bootstrap_servers.rsplit(":", 1)[1])
            fresh = self.kafka = start_kafka(
                workdir=self.workdir / "kafka", port=port, log=self.log
            )
        elif name == "redis" and self.redis is not None:
            fresh = self.redis = start_redis(
                workdir=self.workdir / "redis", port=self.redis.port, persistent=True, log=self.log
            )
        elif name in self.services:
            ports = {n: int(s.url.rsplit(":", 1)[1]) for n, s in self.services.items()}
            env = {**os.environ, **self.service_env(ports)}
            fresh = self.services[name] = start_service(
                name, port=ports[name], env=env, log_dir=self.workdir / "logs", log=self.log
            )
        else:
            raise LaunchError(f"{name} cannot be restarted in place")
        self._started = [(n, fresh if n == name else part) for n, part in self._started]

    def _component(self, name: str) -> _Component:
        for started, part in self._started:
            if started == name:
                return part
        raise LaunchError(f"no component {name!r} was started")

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


def issue_admin_token(path: Path, env: dict[str, str]) -> str:
    """Issue an admin token over the whole hierarchy with the submission service's own CLI
    (creating the national root unit the first time) and keep it in ``path`` (mode 0600)."""
    command = ["tokens", "issue", "--role", "admin", "--scope", "tong-ldld-vn"]
    command += ["--actor", "quan-tri", "--valid-days", "0", "--label", "local stack admin"]
    command += ["--create-root", "Tổng Liên đoàn Lao động Việt Nam"]
    result = subprocess.run(
        [sys.executable, "-m", "services.submission.cli", *command],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise LaunchError(f"could not issue the admin token:\n{result.stderr[-2000:]}")
    token = result.stdout.strip().splitlines()[-1]
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return token


# --- the run command ---------------------------------------------------------------------------


def run_stack(
    workdir: Path,
    *,
    services: bool = True,
    postgres: bool = False,
    log: Log = print,
    on_ready: Callable[[LocalStack], None] = lambda stack: None,
    settings: dict[str, str] | None = None,
) -> int:
    """Start the stack in ``workdir`` (``settings``: SANGKIEN_* variables for every service),
    call ``on_ready``, keep it up until SIGINT or SIGTERM,
    then stop all of it. Returns the exit code: 0 after a signal, 1 when a start failed or a
    component died."""
    workdir = workdir.resolve()
    try:
        claim_workdir(workdir)
    except LaunchError as error:
        log(f"error: {error}")
        return 1
    # SIGINT too: a shell starts background jobs with SIGINT ignored, and `kill -INT` must still
    # stop the stack.
    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, _stop_on_signal) for sig in stops}
    stack = LocalStack(workdir, log=log, settings=settings)
    code = 0
    try:
        stack.start_infrastructure(postgres=postgres, persistent=True)
        if services:
            preferred = {name: spec.default_port for name, spec in SERVICES.items()}
            stack.start_services(list(SERVICES), preferred_ports=preferred)
            stack.admin_token()
        # Before on_ready: whoever waits for "stack is up" may read the file at once.
        stack.write_env_file()
        on_ready(stack)
        while not (dead := stack.dead()):
            time.sleep(1)
        log(f"error: stopped unexpectedly: {', '.join(dead)}; see {workdir}/logs")
        code = 1
    except LaunchError as error:
        log(f"error: {error}")
        code = 1
    except KeyboardInterrupt:
        log("stopping the stack")
    finally:
        # A second Ctrl-C must not leave half the stack running.
        for sig in stops:
            signal.signal(sig, signal.SIG_IGN)
        stack.stop()
        release_workdir(workdir)
        log("stack stopped")
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the stack the same way Ctrl-C does


def claim_workdir(workdir: Path) -> None:
    """Record this process as the work folder's launcher, refusing when another one runs there;
    a stack.env left by an earlier run goes (it points at a stack that is gone)."""
    if (pid := launcher_pid(workdir)) is not None:
        raise LaunchError(f"a stack already runs in {workdir} (launcher pid {pid})")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / ENV_FILE).unlink(missing_ok=True)
    write_private(workdir / PID_FILE, f"{os.getpid()} {process_start(os.getpid())}\n")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only, all at once (a temporary file
    renamed over it), so a concurrent reader sees the old file or the new one, never a part."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
        file.write(text)
    os.replace(temporary, path)


def release_workdir(workdir: Path) -> None:
    """Remove the pid file if it names this process."""
    if launcher_pid(workdir) == os.getpid():
        (workdir / PID_FILE).unlink(missing_ok=True)


def launcher_pid(workdir: Path) -> int | None:
    """The pid of the launcher running in ``workdir``, or None; a stale pid file is removed."""
    path = workdir / PID_FILE
    try:
        pid, started = path.read_text().split()
    except FileNotFoundError:
        return None
    except ValueError:  # not "pid start": not a file this launcher wrote whole
        pid, started = "0", ""
    if pid.isdigit() and process_start(int(pid)) == started:
        return int(pid)
    path.unlink(missing_ok=True)
    return None


def process_start(pid: int) -> str | None:
    """When a live process started (clock ticks since boot), None when it is gone or a zombie.

    The pid file keeps it beside the pid: after a reboot the pid may name another process, and
    ``stack down`` must not signal that one.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return None if fields[0] == "Z" else fields[19]  # state is field 3, starttime field 22


def _dashboard_env(ports: dict[str, int]) -> dict[str, str]:
    """The dashboard (served by scoring) calls the submission service and the notifier from
    the browser: it needs their addresses, and they must allow its origin."""
    if "scoring" not in ports:
        return {}
    origin = f"http://127.0.0.1:{ports['scoring']}"
    env = {
        env_name("cors_allow_origins"): json.dumps(
            [origin, origin.replace("127.0.0.1", "localhost")]
        )
    }
    for name in ("submission", "notifier"):
        if name in ports:
            env[env_name(f"scoring_dashboard_{name}_url")] = f"http://127.0.0.1:{ports[name]}"
    return env
