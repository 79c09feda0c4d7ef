"""Streams II against the real broker and ClickHouse: a scripted day through one worker.

Sensors of one grid report normal values and one gas leak; two cases run their loop (one
resolved on the spot by a grid worker, one through all six steps); department records add
residents, a special group and an enterprise with personal data. The ClickHouse rows of
migrations 0030-0033 and the wall updates (grid_metrics, registers, ranking, job_health)
must hold exactly the scripted figures, and no personal data. Nothing asserts on time.
"""

from __future__ import annotations

from typing import Any

import pytest

from core.kafka_records import OutRecord
from domain.contracts.topics import DEPARTMENT_RECORDS, SENSOR_READINGS
from domain.schemas import CaseEvent, DepartmentRecord, SensorBatch, SensorReading, WallUpdate
from domain.wire import encode
from tests.integration.test_streams_support import (
    StreamEnv,
    WallLog,
    WorkerProc,
    final_count,
    now_ms,
    stream_env,
    wait_for,
)

__all__ = ["stream_env"]
pytestmark = pytest.mark.integration
GRID = "PL01-01"
GAS = [0.5, 0.6, 12.0, 30.0, 0.4]  # ok, ok, warning, critical, ok
PERSONAL = ("王小明", "370102199001011234", "13812345678")


def event(case_id: str, action: str, n: int, actor: str, **kw: Any) -> CaseEvent:
    """A case event in the scripted grid, by ``actor``."""
    if action in ("report", "resolve_on_spot"):
        kw.setdefault("category", "environment")
    source = "grid_worker_app" if actor.startswith("W") else "command_centre"
    return CaseEvent(event_id=f"{case_id}.{n}.{action}", case_id=case_id, action=action,  # type: ignore[arg-type]
                     ts=now_ms(), source=source, actor=actor, grid_id=GRID, **kw)


def script(senv: StreamEnv) -> int:
    """Produce the scripted day; return the number of readings."""
    t = now_ms()
    readings = [SensorReading(sensor_id="GAS-1", kind="gas", value=v, ts=t + i * 1000)
                for i, v in enumerate(GAS)]
    readings += [SensorReading(sensor_id="NOISE-1", kind="noise", value=40.0 + i, ts=t + i)
                 for i in range(20)]
    batches = [SensorBatch(batch_id=f"day.{i}", grid_id=GRID, received_ms=t, source="sensor",
                           readings=readings[i:i + 10]) for i in range(0, len(readings), 10)]
    senv.writer.send_all([OutRecord(SENSOR_READINGS, GRID, encode(b)) for b in batches])
    senv.send_events(event("D1", "resolve_on_spot", 1, "W1"))
    senv.send_events(event("D2", "report", 1, "W1"))
    for n, (action, actor) in enumerate((("verify", "centre"), ("dispatch", "centre"),
                                         ("handle", "W2"), ("close", "centre")), start=2):
        senv.send_events(event("D2", action, n, actor))
    senv.send_events(event("D2", "evaluate", 6, "resident", rating=5))
    people = [("r1", "resident", {"household_id": f"{GRID}-H1"}),
              ("r2", "resident", {"household_id": f"{GRID}-H1", "residence": "floating"}),
              ("r3", "resident", {"household_id": f"{GRID}-H2"}),
              ("s1", "special_group", {"group": "veteran"}),
              ("e1", "enterprise", {"employees": 12, "hazardous_chemicals": False}),
              ("r1", "resident", {"household_id": f"{GRID}-H1"})]  # synced again
    senv.writer.send_all([OutRecord(DEPARTMENT_RECORDS, GRID, encode(DepartmentRecord(
        record_id=rid, record_type=kind, ts=t, grid_id=GRID, attributes=attrs,  # type: ignore[arg-type]
        person_name=PERSONAL[0], person_id_number=PERSONAL[1], person_phone=PERSONAL[2])))
        for rid, kind, attrs in people])
    return len(readings)


def test_scripted_day_rows_and_wall_updates(stream_env: StreamEnv, ch: Any) -> None:
    senv = stream_env
    db = senv.settings.clickhouse_database
    worker = WorkerProc(senv, "day")
    wall = WallLog(senv)
    try:
        worker.wait_ready()
        n_readings = script(senv)

        def q(sql: str) -> list[tuple[Any, ...]]:
            return ch.execute(sql.replace("{db}", db))

        wait_for("readings", lambda: final_count(ch, db, "sensor_readings") == n_readings)
        levels = q("SELECT value, level FROM {db}.sensor_readings FINAL "
                   "WHERE sensor_id = 'GAS-1' ORDER BY ts_ms")
        assert levels == [(0.5, "ok"), (0.6, "ok"), (12.0, "warning"), (30.0, "critical"),
                          (0.4, "ok")]
        rollup = wait_for("rollup", lambda: q(
            "SELECT sum(readings), min(value_min), max(value_max) FROM {db}.sensor_rollup_1m "
            "FINAL WHERE kind = 'gas' HAVING sum(readings) = 5"))
        assert rollup == [(5, 0.4, 30.0)]

        metrics = wait_for("grid minutes", lambda: q(
            "SELECT sum(reported), sum(closed), sum(completed), sum(on_time) "
            "FROM {db}.grid_metrics_1m FINAL WHERE grid_id = 'PL01-01' "
            "HAVING sum(closed) = 2 AND sum(completed) = 5"))
        # D1 opens closed (reported, closed); D2: reported, closed and 5 step completions,
        # all within the default SLA
        assert metrics == [(2, 2, 5, 5)]

        registers = wait_for("registers", lambda: dict(q(
            "SELECT figure, value FROM {db}.grid_registers FINAL WHERE grid_id = 'PL01-01'"))
            if final_count(ch, db, "grid_registers") >= 6 else None)
        assert registers == {"population": 3, "floating": 1, "households": 2,
                             "group.veteran": 1, "enterprises": 1, "employees": 12,
                             "hazardous_enterprises": 0}

        workers = wait_for("worker scores", lambda: dict(q(
            "SELECT subject, cases FROM {db}.scores FINAL WHERE kind = 'worker'")) or None)
        assert workers == {"W1": 3, "W2": 1}  # W1: 2 reports + D1 closed; W2: D2 closed
        grid_score = q("SELECT score, breakdown FROM {db}.scores FINAL "
                       "WHERE kind = 'grid' AND subject = 'PL01-01'")
        assert len(grid_score) == 1 and '"component":"evaluation"' in grid_score[0][1]
        # the same result per scoring period (day, week, month), each with its period start
        periods = wait_for("period scores", lambda: q(
            "SELECT period, period_start_ms, score FROM {db}.score_periods FINAL "
            "WHERE kind = 'grid' AND subject = 'PL01-01' ORDER BY period") or None)
        assert [p[0] for p in periods] == ["day", "month", "week"]
        assert all(p[1] <= now_ms() and p[2] == grid_score[0][0] for p in periods)

        alerts = wait_for("sensor alert", lambda: q(
            "SELECT severity FROM {db}.alerts FINAL WHERE fingerprint = "
            "'sensor_threshold:GAS-1'"))
        assert alerts == [("critical",)]

        def latest(channel: str, key: str) -> WallUpdate | None:
            return wall.latest.get((channel, key))

        grid_view = wait_for("grid view", lambda: (u := latest("grid_metrics", GRID)) and
                             u.data["15m"]["closed"] == 2 and u)
        assert grid_view.data["15m"]["reported"] == 2 and grid_view.data["open_backlog"] == 0
        # community and street come from the street stage, with the sensors' health
        for key in ("PL01", "street"):
            view = wait_for(f"{key} view", lambda k=key: (u := latest("grid_metrics", k)) and
                            u.data["15m"]["closed"] == 2 and u.data["sensors"]["reporting"]
                            and u)
            assert view.data["15m"]["reported"] == 2 and view.data["sensors"]["known"] > 0
        reg = wait_for("registers update", lambda: (u := latest("registers", GRID)) and
                       u.data.get("population") == 3 and u)
        assert reg.data["households"] == 2
        ranking = wait_for("ranking", lambda: latest("ranking", "street"))
        assert [e["subject"] for e in ranking.data["ranking"]] == [GRID]
        assert wait_for("worker ranking", lambda: latest("ranking", "W2"))
        health = wait_for("job health", lambda: latest("job_health", "day-sensors"))
        assert health.data["agents"]["sensors"]["events_total"] == n_readings

        stored = q("SELECT * FROM {db}.grid_registers") + q("SELECT * FROM {db}.scores")
        for personal in PERSONAL:
            assert all(personal not in raw.decode() for raw in wall.raw)
            assert personal not in repr(stored)
    finally:
        wall.stop()
        worker.stop()


def test_a_restarted_worker_still_counts_the_cases_opened_before(stream_env: StreamEnv
                                                                 ) -> None:
    """The open backlog comes back from the recovered cases table, not from zero."""
    senv = stream_env
    wall = WallLog(senv)
    first = WorkerProc(senv, "before")
    try:
        first.wait_ready()
        for n in range(3):
            senv.send_events(event(f"R{n}", "report", 1, "W1"))

        def open_backlog() -> int | None:
            update = wall.latest.get(("grid_metrics", GRID))
            return int(update.data["open_backlog"]) if update else None

        assert wait_for("open backlog 3", lambda: open_backlog() == 3)
        first.stop()
        wall.latest.clear()
        second = WorkerProc(senv, "after")
        try:
            second.wait_ready()
            senv.send_events(event("R9", "report", 1, "W1"))  # one more after the restart
            assert wait_for("open backlog 4", lambda: open_backlog() == 4)
        finally:
            second.stop()
    finally:
        wall.stop()
        first.stop()
