"""``gridwall simulate --direct`` against the real broker: what it produced is what the
engine generated, keyed by grid (and partitioned as the gateway's producer would), readings
batched per grid."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest

from core.kafka_records import partition_for
from core.settings import Settings
from domain.contracts.topics import CASE_EVENTS, DEPARTMENT_RECORDS, SENSOR_READINGS
from domain.schemas import CaseEvent, DepartmentRecord, SensorReading, decode_sensor_batches
from domain.wire import decode, decode_one_or_many, encode
from ingest.import_scan import TopicLog
from ingest.simulator import generate

REPO = Path(__file__).resolve().parents[2]
EVENTS = 4000
RATE = 50_000.0
SPEEDUP = 2000.0

pytestmark = pytest.mark.integration


def test_direct_run_lands_keyed_by_grid_and_batched(infra: Settings,
                                                     gw_env: dict[str, str]) -> None:
    tag = "it" + uuid.uuid4().hex[:8]
    start_ms = 1_767_225_600_000 + int(uuid.uuid4().int % 10_000_000)
    log = TopicLog(infra)
    before = log.end_offsets([SENSOR_READINGS, CASE_EVENTS, DEPARTMENT_RECORDS])
    done = subprocess.run(
        [sys.executable, "-m", "gridwall.cli", "simulate", "--direct", "--events", str(EVENTS),
         "--rate", str(RATE), "--speedup", str(SPEEDUP), "--seed", "7", "--start-ms",
         str(start_ms), "--run-tag", tag, "--progress-every", "1"],
        cwd=REPO, env=gw_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"sent {EVENTS} events" in done.stdout
    produced = list(log.read(before))
    log.close()

    expected = list(generate(7, EVENTS, start_ms, rate=RATE, speedup=SPEEDUP, run_tag=tag))
    want_readings = Counter(encode(e) for e in expected if isinstance(e, SensorReading))
    want_cases = Counter(encode(e) for e in expected if isinstance(e, CaseEvent))
    want_records = Counter(encode(e) for e in expected if isinstance(e, DepartmentRecord))

    partitions = SENSOR_READINGS.partitions or infra.topic_partitions
    got_readings: Counter[bytes] = Counter()
    got_cases: Counter[bytes] = Counter()
    got_records: Counter[bytes] = Counter()
    for message in produced:
        key = (message.key or b"").decode()
        if message.topic == SENSOR_READINGS.name(infra.topic_prefix):
            batches = decode_sensor_batches(message.value)  # packed per partition
            if not batches[0].batch_id.startswith(f"{tag}-d"):
                continue  # another test's readings
            assert key in {b.grid_id for b in batches}
            for batch in batches:
                assert {r.grid_id for r in batch.readings} == {batch.grid_id}
                # the partition kafka-python's default partitioner (the gateway's) picks
                assert message.partition == partition_for(batch.grid_id, partitions)
                got_readings.update(encode(r) for r in batch.readings)
        elif message.topic == CASE_EVENTS.name(infra.topic_prefix):
            for event in decode_one_or_many(message.value, CaseEvent):  # packed topic
                if event.case_id.startswith(f"{tag}-"):
                    assert key == event.grid_id
                    got_cases[encode(event)] += 1
        elif message.value in want_records:
            assert key == decode(message.value, DepartmentRecord).grid_id
            got_records[message.value] += 1

    assert got_readings == want_readings  # every reading exactly once
    assert got_cases == want_cases
    assert got_records == want_records
    assert sum(want_readings.values()) + sum(want_cases.values()) + sum(
        want_records.values()) == EVENTS
