"""A local Apache Kafka broker in KRaft mode, resolved from Maven Central.

Guarantees:
- the jars are resolved once by ``infra/kafka/pom.xml`` into ``<data dir>/kafka/lib`` and
  reused until the pom changes;
- the storage is formatted once (a cluster id is kept beside it), so topics and committed
  offsets survive ``down`` + ``up``;
- ``up`` returns only when the broker answers a metadata request, and reuses a broker that
  is already running.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import uuid
from pathlib import Path

from core.clients import kafka_client_options
from core.settings import Settings
from infra.process import ManagedProcess, StartError, port_open, wait_until

KAFKA_DIR = Path(__file__).resolve().parent / "kafka"
POM = KAFKA_DIR / "pom.xml"


def security_lines(s: Settings) -> str:
    """The client listener's security settings: none for PLAINTEXT; for SASL_PLAINTEXT with
    PLAIN, the one user of the settings (also the broker's own identity). Other protocols
    need certificates this local broker does not make: :class:`StartError` says so."""
    if s.kafka_security_protocol == "PLAINTEXT":
        return ""
    if s.kafka_security_protocol != "SASL_PLAINTEXT" or s.kafka_sasl_mechanism != "PLAIN":
        raise StartError("kafka: the local broker serves PLAINTEXT or SASL_PLAINTEXT with "
                         "PLAIN; for SSL or SCRAM run your own brokers (docs/deploy.md)")
    user, password = s.kafka_username, s.kafka_password
    if any(c in user + password for c in '"\\;\n'):
        raise StartError("kafka: the SASL user and password may not contain quotes, "
                         "backslashes, semicolons or newlines")
    login = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
             f'username="{user}" password="{password}" user_{user}="{password}";')
    return ("sasl.enabled.mechanisms=PLAIN\n"
            "sasl.mechanism.inter.broker.protocol=PLAIN\n"
            f"listener.name.sasl_plaintext.plain.sasl.jaas.config={login}\n")


class KafkaServer:
    """The broker described by ``settings``, with its files under ``<data dir>/kafka``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.data_path / "kafka"
        self.lib = self.home / "lib"
        self.process = ManagedProcess("kafka", self.home / "kafka.pid",
                                      self.home / "logs" / "stdout.log")

    @property
    def address(self) -> str:
        """``host:port`` of the client listener."""
        return f"{self.settings.kafka_host}:{self.settings.kafka_port}"

    def resolve_jars(self) -> Path:
        """Copy the broker's jars into the lib folder unless they are already there."""
        stamp = self.lib / ".pom-sha256"
        digest = hashlib.sha256(POM.read_bytes()).hexdigest()
        if stamp.exists() and stamp.read_text() == digest:
            return self.lib
        if shutil.which("mvn") is None:
            raise StartError("kafka: `mvn` not found; install Maven (apt-get install maven)")
        if self.lib.exists():
            shutil.rmtree(self.lib)
        result = subprocess.run(
            ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
             "-DincludeScope=runtime", f"-DoutputDirectory={self.lib}"],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise StartError(f"kafka: resolving jars failed:\n{result.stdout[-3000:]}"
                             f"{result.stderr[-3000:]}")
        stamp.write_text(digest)
        return self.lib

    def _write_config(self) -> Path:
        s = self.settings
        text = (KAFKA_DIR / "server.properties").read_text().format(
            host=s.kafka_host, port=s.kafka_port, controller_port=s.kafka_controller_port,
            log_dirs=self.home / "data", partitions=s.topic_partitions,
            client=s.kafka_security_protocol, security=security_lines(s),
        )
        path = self.home / "server.properties"
        path.write_text(text)
        return path

    def _java(self, *args: str) -> list[str]:
        return ["java", "-cp", f"{self.lib}/*",
                f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.xml'}",
                f"-Dkafka.logs.dir={self.home / 'logs'}", *args]

    def _format_once(self, config: Path) -> None:
        if (self.home / "data" / "meta.properties").exists():
            return
        id_file = self.home / "cluster.id"
        if not id_file.exists():
            raw = uuid.uuid4().bytes
            id_file.write_text(base64.urlsafe_b64encode(raw).decode().rstrip("="))
        result = subprocess.run(
            # "--cluster-id=<id>": a base64url id may start with "-", which argparse would
            # take for an option if passed as a separate argument (1 start in 32 failed)
            self._java("kafka.tools.StorageTool", "format", "--ignore-formatted",
                       f"--cluster-id={id_file.read_text().strip()}", "-c", str(config)),
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise StartError(f"kafka: formatting storage failed:\n{result.stdout}{result.stderr}")

    def answers(self) -> bool:
        """True if the broker answers a metadata request."""
        from kafka import KafkaAdminClient

        if not port_open(self.settings.kafka_host, self.settings.kafka_port):
            return False  # cheaper than letting the admin client time out

        admin = KafkaAdminClient(bootstrap_servers=self.address, request_timeout_ms=3000,
                                 client_id="gridwall-infra-probe",
                                 **kafka_client_options(self.settings))
        try:
            admin.list_topics()
            return True
        finally:
            admin.close()

    def up(self, timeout_s: float = 90.0) -> str:
        """Start the broker (or reuse a running one) and wait until it answers.

        Returns ``"running"`` if it was already up, ``"started"`` otherwise.
        """
        if self.process.is_running():
            wait_until(self.answers, timeout_s, "kafka", self.process)
            return "running"
        if port_open(self.settings.kafka_host, self.settings.kafka_port):
            raise StartError(f"kafka: {self.address} is taken by a process GridWall did not "
                             "start; stop it or set GRIDWALL_KAFKA_BOOTSTRAP")
        self.home.mkdir(parents=True, exist_ok=True)
        self.resolve_jars()
        config = self._write_config()
        self._format_once(config)
        heap = self.settings.kafka_heap_mb
        self.process.start(self._java(
            f"-Xms{min(heap, 512)}m", f"-Xmx{heap}m", "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true", "kafka.Kafka", str(config),
        ))
        wait_until(self.answers, timeout_s, "kafka", self.process)
        return "started"

    def down(self) -> bool:
        """Stop the broker by PID; True if one was running."""
        return self.process.stop()
