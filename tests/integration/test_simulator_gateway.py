"""``gridwall simulate`` through the real gateway: everything accepted, nothing refused, and
what landed in Kafka is what the engine generated."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.auth import ensure_dev_tokens
from core.kafka_records import partition_for
from core.settings import Settings
from domain.contracts.topics import CASE_EVENTS, SENSOR_READINGS
from domain.schemas import CaseEvent, SensorReading, decode_sensor_batches
from domain.wire import decode_one_or_many, encode
from ingest.import_scan import TopicLog
from ingest.simulator import generate

REPO = Path(__file__).resolve().parents[2]
EVENTS = 3000
RATE = 20_000.0

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture()
def gateway(infra: Settings, gw_env: dict[str, str], tmp_path: Path
            ) -> Iterator[dict[str, str]]:
    """A gateway of this test session on a free port; yields the environment to reach it."""
    tokens = tmp_path / "tokens.yaml"
    ensure_dev_tokens(tokens)
    port = _free_port()
    env = {**gw_env, "GRIDWALL_TOKENS_FILE": str(tokens), "GRIDWALL_GATEWAY_PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-m", "gridwall.cli", "gateway",
                                "--log-level", "warning"], cwd=REPO, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "the gateway exited"
            assert time.monotonic() < deadline, "the gateway did not become healthy"
            time.sleep(0.2)
        yield env
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_through_the_gateway_everything_is_accepted(gateway: dict[str, str],
                                                    infra: Settings) -> None:
    tag = "gw" + uuid.uuid4().hex[:8]
    # a day ago: inside the gateway's plausible window of event times (7 days back, 5 min ahead)
    start_ms = int(time.time() * 1000) - 86_400_000 + int(uuid.uuid4().int % 10_000_000)
    log = TopicLog(infra)
    before = log.end_offsets([SENSOR_READINGS, CASE_EVENTS])
    done = subprocess.run(
        [sys.executable, "-m", "gridwall.cli", "simulate", "--events", str(EVENTS), "--rate",
         str(RATE), "--speedup", "2000", "--seed", "3", "--start-ms", str(start_ms),
         "--run-tag", tag], cwd=REPO, env=gateway, capture_output=True, text=True,
        timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"accepted {EVENTS}, rejected 0" in done.stdout
    produced = list(log.read(before))
    log.close()

    expected = list(generate(3, EVENTS, start_ms, rate=RATE, speedup=2000.0, run_tag=tag))
    want_readings = Counter(encode(e) for e in expected if isinstance(e, SensorReading))
    want_cases = {e.event_id for e in expected if isinstance(e, CaseEvent)}
    partitions = SENSOR_READINGS.partitions or infra.topic_partitions
    got_readings: Counter[bytes] = Counter()
    got_cases: Counter[str] = Counter()
    for message in produced:
        if message.topic == SENSOR_READINGS.name(infra.topic_prefix):
            batches = decode_sensor_batches(message.value)  # packed per partition
            if batches[0].batch_id.startswith(f"{tag}-h"):
                assert message.key.decode() in {b.grid_id for b in batches}
                for batch in batches:
                    assert message.partition == partition_for(batch.grid_id, partitions)
                    got_readings.update(encode(r) for r in batch.readings)
        else:
            for event in decode_one_or_many(message.value, CaseEvent):  # packed topic
                if event.case_id.startswith(f"{tag}-"):
                    assert message.key == (event.grid_id or "").encode()
                    got_cases[event.event_id] += 1
    assert got_readings == want_readings
    assert got_cases == Counter(want_cases)
