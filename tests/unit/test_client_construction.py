"""Every Kafka and ClickHouse client of the services gets the configured security settings.

The services' source is read as syntax trees: a ``clickhouse_driver.Client`` may only be built
by the factory (``clickhouse_client``); every kafka-python / aiokafka client must take the
factory's options (a ``**`` argument built by ``kafka_client_options`` /
``aiokafka_client_options`` or handed down as ``client_options``); a ``faust.App`` must get
``broker_credentials``. A new client built with defaults (which cannot connect once SASL/TLS
is on) fails this test. Tests and benches may keep the defaults.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "domain", "gridwall", "infra", "ingest", "readside", "streams", "wall")
KAFKA_CLASSES = {"KafkaProducer", "KafkaConsumer", "KafkaAdminClient", "AIOKafkaConsumer",
                 "AIOKafkaProducer", "AIOKafkaAdminClient", "AIOKafkaClient"}
CLIENT_MODULES = ("kafka", "aiokafka", "clickhouse_driver", "faust")
CLICKHOUSE_FACTORY = Path("clients.py")  # the one module that builds clickhouse_driver.Client
OPTION_FACTORIES = {"kafka_client_options", "aiokafka_client_options"}


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES if (ROOT / pkg).is_dir()
                  for p in (ROOT / pkg).rglob("*.py"))


def _imported_clients(tree: ast.AST) -> dict[str, str]:
    """Local name -> 'module.Class' for client classes imported anywhere in the module."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module \
                and node.module.split(".")[0] in CLIENT_MODULES:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module.split('.')[0]}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in CLIENT_MODULES:
                    names[alias.asname or alias.name] = alias.name
    return names


def _client_kind(call: ast.Call, imported: dict[str, str]) -> str | None:
    """'clickhouse', 'kafka', 'faust' or None for a call that builds no client."""
    func = call.func
    if isinstance(func, ast.Name) and func.id in imported:
        target = imported[func.id]
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
            and func.value.id in imported:
        target = f"{imported[func.value.id]}.{func.attr}"
    else:
        return None
    module, _, cls = target.rpartition(".")
    if module.startswith("clickhouse_driver") and cls == "Client":
        return "clickhouse"
    if module.split(".")[0] in ("kafka", "aiokafka") and cls in KAFKA_CLASSES:
        return "kafka"
    if module == "faust" and cls == "App":
        return "faust"
    return None


def _takes_factory_options(call: ast.Call) -> bool:
    for kw in call.keywords:
        if kw.arg is not None:
            continue
        text = ast.unparse(kw.value)
        if "client_options" in text or any(f in text for f in OPTION_FACTORIES):
            return True
    return False


def violations(path: Path, source: str) -> list[str]:
    """The client constructions in ``source`` that bypass the factories' settings."""
    tree = ast.parse(source)
    imported = _imported_clients(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        kind = _client_kind(node, imported)
        where = f"{path}:{node.lineno}"
        if kind == "clickhouse" and path.name != CLICKHOUSE_FACTORY.name:
            found.append(f"{where}: clickhouse_driver.Client outside clickhouse_client()")
        elif kind == "kafka" and not _takes_factory_options(node):
            found.append(f"{where}: Kafka client without **(aio)kafka_client_options(...)")
        elif kind == "faust" and not any(k.arg == "broker_credentials" for k in node.keywords):
            found.append(f"{where}: faust.App without broker_credentials")
    return found


def test_every_service_client_gets_the_security_settings() -> None:
    found = [v for p in _sources() for v in violations(p.relative_to(ROOT), p.read_text())]
    assert found == []


@pytest.mark.parametrize("source", [
    "from clickhouse_driver import Client\nc = Client('h', port=9000)\n",
    "import clickhouse_driver\nc = clickhouse_driver.Client('h')\n",
    "from kafka import KafkaProducer\np = KafkaProducer(bootstrap_servers='b')\n",
    "def f():\n    from aiokafka import AIOKafkaConsumer\n"
    "    return AIOKafkaConsumer('t', bootstrap_servers='b', group_id=None)\n",
    "import faust\napp = faust.App('id', broker='kafka://b')\n",
])
def test_a_new_default_client_is_found(source: str) -> None:
    assert len(violations(Path("ingest/new.py"), source)) == 1


@pytest.mark.parametrize("source", [
    "from kafka import KafkaProducer\n"
    "p = KafkaProducer(bootstrap_servers='b', **kafka_client_options(s))\n",
    "from aiokafka import AIOKafkaConsumer\n"
    "c = AIOKafkaConsumer(bootstrap_servers='b', **self.client_options)\n",
    "import faust\napp = faust.App('id', broker_credentials=faust_broker_credentials(s))\n",
    "class Client:\n    pass\nc = Client()\n",  # not a clickhouse client
])
def test_factory_built_clients_pass(source: str) -> None:
    assert violations(Path("ingest/new.py"), source) == []


def test_the_worker_app_gets_the_credentials_and_the_replication_factor(
        tmp_path: Path) -> None:
    import faust

    from core.settings import settings_from
    from streams.app import faust_app

    settings = settings_from({
        "GRIDWALL_DATA_DIR": str(tmp_path), "GRIDWALL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "GRIDWALL_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "GRIDWALL_KAFKA_USERNAME": "gw",
        "GRIDWALL_KAFKA_PASSWORD": "secret", "GRIDWALL_TOPIC_REPLICATION_FACTOR": "3"})
    app = faust_app(settings, "w0")
    assert app.conf.topic_replication_factor == 3
    assert isinstance(app.conf.broker_credentials, faust.SASLCredentials)
    assert app.conf.broker_credentials.username == "gw"
