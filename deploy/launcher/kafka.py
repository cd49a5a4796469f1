"""Apache Kafka in KRaft mode, one combined broker and controller, from Maven Central's jars."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.launcher.errors import LaunchError
from deploy.launcher.process import (
    Log,
    ManagedProcess,
    ensure_port_free,
    free_port,
    run_coroutine,
    tail,
)
from shared.kafka.readiness import check_kafka

KAFKA_DIR = Path(__file__).resolve().parents[1] / "kafka"
POM = KAFKA_DIR / "pom.xml"
LOG4J_CONFIG = KAFKA_DIR / "log4j2.yaml"
MIN_JAVA = 17


def kafka_version() -> str:
    """The Kafka version the pom pins."""
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    if not match:
        raise LaunchError(f"{POM} does not set <kafka.version>")
    return match.group(1)


def kafka_cache_dir() -> Path:
    """Where the broker's jars are kept: one folder per version and pom content."""
    root = os.environ.get("SANGKIEN_KAFKA_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "sangkien" / "kafka"
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:8]
    return base / f"{kafka_version()}-{digest}"


def check_java() -> str:
    """The java executable, if it is Java 17 or newer; otherwise say what to install."""
    java = shutil.which("java")
    if java is None:
        raise LaunchError(
            "Kafka needs Java 17 or newer and `java` is not on PATH "
            "(Debian: apt-get install openjdk-17-jre-headless)"
        )
    result = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)', result.stderr + result.stdout)
    major = int(match.group(1)) if match else 0
    if major < MIN_JAVA:
        raise LaunchError(f"Kafka needs Java {MIN_JAVA} or newer; `java -version` says {major}")
    return java


def ensure_kafka_jars(log: Log = print) -> Path:
    """Copy kafka_2.13 and its runtime dependencies from Maven Central once; return the folder."""
    libs = kafka_cache_dir() / "libs"
    stamp = libs / ".complete"
    if stamp.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LaunchError(
            "fetching Kafka's jars needs Maven: `mvn` is not on PATH (apt-get install maven)"
        )
    log(f"kafka: fetching Kafka {kafka_version()} jars from Maven Central into {libs} (once)")
    started = time.monotonic()
    shutil.rmtree(libs, ignore_errors=True)
    result = subprocess.run(
        [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
         f"-DoutputDirectory={libs}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        output = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        unreachable = re.search(r"(Could not transfer|Unknown ?host|Connection refused|timed out)",
                                output, re.IGNORECASE)  # fmt: skip
        why = "Maven Central is unreachable" if unreachable else "Maven failed"
        raise LaunchError(f"kafka: {why} while fetching the jars:\n{output}")
    if not any(libs.glob("kafka_2.13-*.jar")):
        raise LaunchError(f"kafka: Maven ran but {libs} has no kafka_2.13 jar")
    stamp.write_text(kafka_version())
    log(f"kafka: jars fetched in {time.monotonic() - started:.1f} s")
    return libs


_SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
# Static voters rather than --standalone: the endpoint is not written into the log, so a kept
# data folder can be restarted on other ports.
controller.quorum.voters=1@127.0.0.1:{controller_port}
log.dirs={data_dir}
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
"""


@dataclass
class KafkaServer:
    """A running broker: where it listens and how to stop it."""

    bootstrap_servers: str
    data_dir: Path
    process: ManagedProcess

    def stop(self) -> None:
        """Controlled shutdown (SIGTERM), then kill if it hangs."""
        self.process.stop(grace=30)


def start_kafka(
    *,
    workdir: Path,
    port: int | None = None,
    heap: str = "768m",
    timeout: float = 120.0,
    log: Log = print,
) -> KafkaServer:
    """Start one combined broker and controller on loopback; return once metadata answers."""
    java = check_java()
    libs = ensure_kafka_jars(log)
    port = port or free_port()
    ensure_port_free(port, "kafka")
    controller_port = free_port()
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    config = workdir / "server.properties"
    config.write_text(
        _SERVER_PROPERTIES.format(port=port, controller_port=controller_port, data_dir=data_dir)
    )
    log_path = workdir / "kafka.log"
    # The classpath wildcard is quoted for the JVM to expand, not the shell.
    jvm = [java, f"-Dlog4j2.configurationFile={LOG4J_CONFIG}", "-cp", f"{libs}/*"]
    started = time.monotonic()
    _format_storage(jvm, config, log_path, data_dir)
    broker_opts = [f"-Xmx{heap}", "-Xms256m", "-XX:+UseG1GC", "-Djava.awt.headless=true"]
    process = ManagedProcess(
        "kafka", [*jvm, *broker_opts, "kafka.Kafka", str(config)], log_path=log_path
    )
    process.start()
    bootstrap = f"127.0.0.1:{port}"
    # Until the broker listens, aiokafka logs each refused connection as an error: expected here.
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)
    try:
        process.wait_ready(
            lambda: run_coroutine(lambda: check_kafka(bootstrap, timeout=2.0)) > 0,
            timeout=timeout,
            what="answering metadata requests",
        )
    finally:
        aiokafka_log.setLevel(level)
    log(f"kafka: ready on {bootstrap} in {time.monotonic() - started:.1f} s (data {data_dir})")
    return KafkaServer(bootstrap, data_dir, process)


def _format_storage(jvm: list[str], config: Path, log_path: Path, data_dir: Path) -> None:
    """Format KRaft storage once per data folder (a formatted folder is left as it is)."""
    # Not --ignore-formatted: with a new random cluster id it refuses a formatted folder.
    if (data_dir / "meta.properties").exists():
        return
    cluster_id = subprocess.run(
        [*jvm, "kafka.tools.StorageTool", "random-uuid"],
        capture_output=True, text=True, check=False,
    ).stdout.strip().splitlines()  # fmt: skip
    if not cluster_id:
        raise LaunchError("kafka: StorageTool random-uuid printed nothing")
    with log_path.open("a") as out:
        result = subprocess.run(
            [*jvm, "kafka.tools.StorageTool", "format", "-t", cluster_id[-1], "-c", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        raise LaunchError(f"kafka: formatting storage failed:\n{tail(log_path)}")
