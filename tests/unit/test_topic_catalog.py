"""The topic catalog is declared once (domain/contracts/topics.py) and states each topic."""

from __future__ import annotations

import ast
from pathlib import Path

from core.settings import Settings
from domain.contracts import topics
from infra.topics import spec_configs

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("core", "domain", "gridwall", "infra", "ingest", "readside", "streams", "wall")


def test_names_take_a_prefix_string() -> None:
    assert topics.CASE_EVENTS.name("t1.") == "t1.gridwall.cases.events"
    assert topics.ROWS.name("") == "gridwall.streams.rows"


def test_each_topic_states_partitions_retention_and_compaction() -> None:
    assert topics.DEPARTMENT_RECORDS.configs == {"retention.ms": "-1", "retention.bytes": "-1"}
    assert topics.HEALTH.configs == {"retention.ms": "3600000"}
    assert topics.HEALTH.partitions == 1
    for spec in (topics.CONTROL, topics.GRID_PARTIALS):
        assert spec.partitions == 1
        assert spec.configs["cleanup.policy"] == "compact"
    assert topics.CASE_EVENTS.configs == {} and topics.CASE_EVENTS.packed


def test_the_admin_adds_min_insync_to_the_spec() -> None:
    configs = spec_configs(topics.CONTROL, Settings())
    assert configs["min.insync.replicas"] == "1"
    assert configs["cleanup.policy"] == "compact"


def test_names_are_unique() -> None:
    bases = [s.base for s in topics.CATALOG + topics.STREAM_TOPICS]
    assert len(bases) == len(set(bases))


def test_no_second_catalog() -> None:
    """A ``TopicSpec(...)`` outside the catalog (tests and benches aside) is a second one."""
    found = []
    for pkg in SERVICES:
        for path in sorted((ROOT / pkg).rglob("*.py")) if (ROOT / pkg).is_dir() else []:
            if path == ROOT / "domain" / "contracts" / "topics.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "TopicSpec":
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
