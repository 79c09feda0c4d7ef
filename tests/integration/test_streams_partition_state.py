"""The plain loops' state moves with its partitions (real broker and ClickHouse, real workers).

* Sensors: with every installed sensor reporting every ~1.5 s and a 4 s heartbeat, a second
  worker joins the same app id and then leaves; no sensor that kept reporting is alerted
  dead, while the one sensor grid the test silences on purpose is (the detection works).
* Registers: a worker is SIGKILLed and another takes over; the ``grid_registers`` figures
  (FINAL) it writes are equal to those before, and a corrected record replaces its old
  contribution.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.kafka_records import OutRecord
from domain.contracts.topics import DEPARTMENT_RECORDS, SENSOR_READINGS
from domain.geo import street
from domain.schemas import DepartmentRecord, SensorBatch, SensorReading
from domain.wire import encode
from tests.integration.test_streams_support import (
    REPO,
    Observer,
    StreamEnv,
    WorkerProc,
    now_ms,
    stream_env,
    wait_for,
)

__all__ = ["stream_env"]
pytestmark = pytest.mark.integration
HEARTBEAT_S = 4


def short_heartbeats() -> dict[str, Any]:
    """The shipped thresholds with every heartbeat timeout at HEARTBEAT_S."""
    policy = yaml.safe_load(Path(REPO, "config/thresholds.yaml").read_text())
    for kind in policy["kinds"].values():
        kind["heartbeat_s"] = HEARTBEAT_S
    return policy


class SensorFeed:
    """Every installed sensor reports every ``period_s``, one SensorBatch per grid."""

    def __init__(self, senv: StreamEnv, period_s: float = 1.5) -> None:
        self.senv = senv
        self.period_s = period_s
        self.by_grid: dict[str, list[tuple[str, str]]] = {}
        for sensor_id, poi in sorted(street().sensors.items()):
            self.by_grid.setdefault(poi.grid_id, []).append((sensor_id, poi.sensor_kind or ""))
        self.silenced: set[str] = set()
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> SensorFeed:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            t = now_ms()
            out = []
            for grid, sensors in self.by_grid.items():
                if grid in self.silenced:
                    continue
                readings = [SensorReading(sensor_id=s, kind=k, value=_normal(k), ts=t)  # type: ignore[arg-type]
                            for s, k in sensors]
                out.append(OutRecord(SENSOR_READINGS, grid, encode(SensorBatch(
                    batch_id=f"feed.{grid}.{t}", grid_id=grid, received_ms=t,
                    source="sensor", readings=readings))))
            self.senv.writer.send_all(out)
            self.rounds += 1
            self._stop.wait(self.period_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def _normal(kind: str) -> float:
    """A value inside every band of ``kind`` (no threshold alert)."""
    return {"water_level": 10.0, "noise": 50.0, "air_quality": 50.0}.get(kind, 0.5)


def restores(worker: WorkerProc, group: str) -> int:
    """How many assignments the worker's ``group`` loop has restored so far."""
    log = worker.log_path.read_text(errors="replace")
    return sum(1 for line in log.splitlines() if f"{group}: restored" in line)


def dead_raised(observer: Observer) -> dict[str, Any]:
    """Sensor-dead alerts seen on the alerts topic, by sensor."""
    with observer._lock:
        return {a.sensor_id or "": a for _, a in observer.alert_log if a.kind == "sensor_dead"}


def test_a_worker_joining_and_leaving_raises_no_false_dead_sensor(stream_env: StreamEnv
                                                                  ) -> None:
    senv = stream_env
    senv.send_config("thresholds", short_heartbeats())
    feed = SensorFeed(senv)
    silenced = sorted(feed.by_grid)[0]
    group = "gridwall-streams-sensors"
    observer = Observer(senv.settings).start()
    first = WorkerProc(senv, "first")
    second: WorkerProc | None = None
    try:
        first.wait_ready()
        feed.start()
        wait_for("first worker restored its sensors", lambda: restores(first, group) >= 1)
        time.sleep(2 * HEARTBEAT_S)
        second = WorkerProc(senv, "second")
        second.wait_ready()
        wait_for("second worker restored its share", lambda: restores(second, group) >= 1,
                 timeout_s=90)
        time.sleep(2 * HEARTBEAT_S)
        before_leave = restores(first, group)
        second.stop()
        second = None
        wait_for("first worker took all partitions back",
                 lambda: restores(first, group) > before_leave, timeout_s=90)
        time.sleep(2 * HEARTBEAT_S)
        # the control: one grid goes silent, its sensors must be alerted dead
        feed.silenced.add(silenced)
        expected = {s for s, _ in feed.by_grid[silenced]}
        wait_for("silenced grid's sensors alerted dead",
                 lambda: expected <= set(dead_raised(observer)), timeout_s=60)
        time.sleep(2)
    finally:
        if second is not None:
            second.stop()
        first.stop()
        feed.stop()
        observer.stop()
    raised = dead_raised(observer)
    false = sorted(set(raised) - expected)
    print(f"\n{feed.rounds} feed rounds, {sum(map(len, feed.by_grid.values()))} sensors; "
          f"dead alerts: {len(raised)} ({len(expected)} silenced on purpose)")
    assert false == [], f"{len(false)} reporting sensors alerted dead, e.g. {false[:5]}"


def resident(rid: str, grid: str, household: str, ts: int, dept: str = "civil_affairs"
             ) -> DepartmentRecord:
    return DepartmentRecord(record_id=rid, record_type="resident", ts=ts, grid_id=grid,
                            department=dept,  # type: ignore[arg-type]
                            attributes={"household_id": household})


def registers(ch: Any, db: str) -> dict[tuple[str, str], int]:
    return {(g, f): v for g, f, v in ch.execute(
        f"SELECT grid_id, figure, value FROM {db}.grid_registers FINAL")}


def test_registers_survive_sigkill_and_a_correction_replaces(stream_env: StreamEnv, ch: Any
                                                             ) -> None:
    senv, db = stream_env, stream_env.settings.clickhouse_database
    grids = [f"PL0{c}-0{g}" for c in range(1, 4) for g in range(1, 5)]  # 12 grids
    t = now_ms()
    records = [resident(f"{grid}-r{i}", grid, f"{grid}-H{i // 3}", t)
               for grid in grids for i in range(10)]
    records.append(DepartmentRecord(record_id="b1", record_type="building", ts=t,
                                    grid_id=grids[0], attributes={"households": 20}))
    senv.writer.send_all([OutRecord(DEPARTMENT_RECORDS, r.grid_id or "", encode(r))
                          for r in records])
    expected = {(g, "population"): 10 for g in grids} | {(g, "households"): 4 for g in grids}
    expected |= {(grids[0], "buildings"): 1, (grids[0], "building_households"): 20}
    victim = WorkerProc(senv, "victim")
    survivor: WorkerProc | None = None
    try:
        victim.wait_ready()
        before = wait_for("registers written", lambda: (lambda r: r if r == expected else None)(
            registers(ch, db)))
        victim.kill()
        killed_ms = now_ms()
        survivor = WorkerProc(senv, "survivor")
        survivor.wait_ready()
        rewritten = wait_for("the survivor rewrote every register row", lambda: ch.execute(
            f"SELECT count() FROM {db}.grid_registers FINAL WHERE version > {killed_ms}"
        )[0][0] >= len(expected), timeout_s=90)
        after = registers(ch, db)
        # a correction of b1 (newer version), a re-sync of a resident, a new resident
        corrections = [
            DepartmentRecord(record_id="b1", record_type="building", ts=t + 1,
                             grid_id=grids[0], attributes={"households": 24}),
            resident(f"{grids[1]}-r0", grids[1], f"{grids[1]}-H0", t + 1),
            resident(f"{grids[1]}-r0", grids[1], f"{grids[1]}-H0", t + 2, dept="police")]
        senv.writer.send_all([OutRecord(DEPARTMENT_RECORDS, r.grid_id or "", encode(r))
                              for r in corrections])
        corrected = dict(expected) | {(grids[0], "building_households"): 24,
                                      (grids[1], "population"): 11}
        wait_for("the correction replaced the old contribution",
                 lambda: registers(ch, db) == corrected, timeout_s=60)
    finally:
        if survivor is not None:
            survivor.stop()
        if victim.proc.poll() is None:
            victim.stop()
    print(f"\nregisters before the SIGKILL {sum(before.values())} (sum of figures), after "
          f"{sum(after.values())}; rows rewritten by the survivor: {rewritten}")
    assert before == after == expected


def test_topics_ensure_gives_department_records_unbounded_retention(infra: Any) -> None:
    import dataclasses
    import uuid

    from core.settings import settings_from
    from infra.topics import ensure_topics, topic_configs

    fresh = settings_from({"GRIDWALL_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
                           "GRIDWALL_TOPIC_PREFIX": f"t{uuid.uuid4().hex[:8]}."})
    plain = dataclasses.replace(DEPARTMENT_RECORDS, retention_ms=None)  # as created before
    ensure_topics(fresh, [plain])
    assert topic_configs(fresh, DEPARTMENT_RECORDS).get("retention.ms") != "-1"
    ensure_topics(fresh)  # `gridwall topics ensure`
    configs = topic_configs(fresh, DEPARTMENT_RECORDS)
    assert (configs["retention.ms"], configs["retention.bytes"]) == ("-1", "-1")


class RecordingState:
    """A PartitionState that records what the loop hands it (``fail``: replay raises)."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.replayed: list[int] = []
        self.restored_at: dict[int, int] = {}
        self.handled: list[int] = []

    def replay_from_ms(self) -> None:
        return None

    def replay(self, records: Any) -> None:
        if self.fail:
            raise RuntimeError("restore failed")
        self.replayed.extend(int(r.value) for r in records)

    async def restored(self, partitions: Any, now_ms: int) -> None:
        self.restored_at = {tp.partition: end for tp, end in partitions.items()}

    def revoke(self, partitions: Any) -> None:
        pass


def test_batch_loop_restores_before_handling_and_stops_on_a_failed_restore(infra: Any
                                                                          ) -> None:
    import asyncio
    import uuid

    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    from streams.batchloop import BatchLoop

    topic, group = f"t{uuid.uuid4().hex[:8]}.loop", f"g{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=infra.kafka_bootstrap)

    def produce(values: range) -> None:
        for v in values:
            producer.send(topic, key=b"k", value=str(v).encode())
        producer.flush()

    async def run(state: RecordingState, until: int) -> None:
        async def handle(records: Any) -> None:
            state.handled.extend(int(r.value) for r in records)

        loop = BatchLoop(infra.kafka_bootstrap, group, [topic], handle)
        loop.own(state)
        stopping = asyncio.Event()
        task = asyncio.ensure_future(loop.run(stopping))
        for _ in range(300):
            if len(state.handled) >= until or task.done():
                break
            await asyncio.sleep(0.05)
        stopping.set()
        await task

    produce(range(10))
    first = RecordingState()
    asyncio.run(run(first, 10))
    produce(range(10, 15))
    second = RecordingState()
    asyncio.run(run(second, 5))
    producer.close()
    assert (first.replayed, first.handled) == ([], list(range(10)))
    assert second.replayed == list(range(10)) and second.restored_at == {0: 10}
    assert second.handled == list(range(10, 15))
    with pytest.raises(RuntimeError, match="restore failed"):
        asyncio.run(run(RecordingState(fail=True), 1))
