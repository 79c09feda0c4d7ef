"""bench.pipeline's figures: the drain's lag condition, latency per wall level, live pacing."""

from __future__ import annotations

from typing import Any

from bench._pipeline_world import DRAIN_CONSUMERS, Load, Watch, consumer_lag, produce_live
from bench.pipeline import latency
from domain.schemas import WallUpdate


def health(ts: int, key: str = "bench", **lags: dict[str, dict[str, int]]) -> WallUpdate:
    return WallUpdate(channel="job_health", key=key, ts=ts, data={
        "lag": lags, "lag_total": sum(v for t in lags.values() for p in t.values()
                                      for v in p.values())})


EVERY = {"agents": {"cases": {"0": 0}}, "sensors": {"readings": {"0": 0}},
         "street": {"partials": {"0": 0}}}


def test_drain_counts_the_named_consumers_only_and_none_while_one_is_unknown() -> None:
    data: dict[str, Any] = {"lag": {**EVERY, "sink": {"rows": {"0": 7}},
                                    "registers": {"records": {"3": 2}}}}
    assert consumer_lag(data, DRAIN_CONSUMERS) == 0  # sink and registers are not waited on
    data["lag"]["street"] = {"partials": {"0": 4}}
    assert consumer_lag(data, DRAIN_CONSUMERS) == 4
    data["lag"]["street"] = {}  # no partition with a known lag yet: unknown, not 0
    assert consumer_lag(data, DRAIN_CONSUMERS) is None
    del data["lag"]["street"]
    assert consumer_lag(data, DRAIN_CONSUMERS) is None


def test_lag_after_reads_the_latest_report_after_the_time() -> None:
    watch = Watch(world=None)  # type: ignore[arg-type]
    assert watch.lag_after(0) is None
    watch.add(1, health(100, **{**EVERY, "agents": {"cases": {"0": 3}}}))
    assert watch.lag_after(50) == 3
    assert watch.lag_after(100) is None  # not made after 100
    watch.add(2, health(200, **EVERY, sink={"rows": {"0": 9}}))
    assert watch.lag_after(150) == 0


def test_lag_after_merges_the_latest_report_of_each_process() -> None:
    watch = Watch(world=None)  # type: ignore[arg-type]
    workflow = {"agents": EVERY["agents"], "street": EVERY["street"]}
    watch.add(1, health(100, key="w", **workflow))
    assert watch.lag_after(50) is None  # the sensors consumer is in no report yet
    watch.add(2, health(110, key="w-sensors", sensors={"readings": {"0": 5, "1": 2}},
                        agents={}))
    assert watch.lag_after(50) == 7
    watch.add(3, health(300, key="w-sensors", sensors={"readings": {"0": 0, "1": 0}}))
    assert watch.lag_after(150) is None  # the worker's own report is older
    watch.add(4, health(310, key="w", **workflow))
    assert watch.lag_after(150) == 0


def metric(level: str, key: str, source: int) -> WallUpdate:
    return WallUpdate(channel="grid_metrics", key=key, ts=source,
                      data={"level": level, "key": key, "source_ms": source})


def test_latency_is_reported_per_level_and_all_together() -> None:
    watch = Watch(world=None)  # type: ignore[arg-type]
    watch.wall += [(1_300, metric("grid", "G01", 1_000)), (1_500, metric("grid", "G02", 1_000)),
                   (3_000, metric("community", "C1", 1_000)),
                   (3_500, metric("street", "street", 1_000)),
                   (9_000, metric("grid", "G03", 99_000)),  # outside the live phase
                   (1_100, WallUpdate(channel="cases", key="c", ts=1, data={"source_ms": 1}))]
    f = latency(watch, 500, 2_000, case_hold_ms=[10, 20, 30])
    assert (f["grid_latency_p50_ms"], f["grid_latency_p99_ms"], f["grid_latency_samples"]
            ) == (300, 500, 2)
    assert (f["street_latency_p50_ms"], f["street_latency_p99_ms"],
            f["street_latency_samples"]) == (2_000, 2_500, 2)
    assert (f["latency_p50_ms"], f["latency_p99_ms"], f["latency_samples"]) == (500, 2_500, 4)
    assert (f["case_hold_p50_ms"], f["case_hold_p99_ms"]) == (20, 30)


class Writer:
    def __init__(self) -> None:
        self.sends: list[list[Any]] = []

    def send_all(self, records: list[Any]) -> None:
        self.sends.append(list(records))


def test_live_produces_every_event_once_readings_pushed_case_events_as_due() -> None:
    writer = Writer()
    world: Any = type("W", (), {"tag": "t", "writer": writer})()
    load = Load()
    live = produce_live(world, rate=400, duration_s=1.0, load=load, push_s=0.5, tick_s=0.02)
    assert load.events + load.records == 400
    assert live.end_ms > live.start_ms
    assert len(live.case_hold_ms) == load.cases
    pushes = [s for s in writer.sends if any("readings" in r.topic.base for r in s)]
    assert 1 <= len(pushes) <= 4  # every 0.5 s over ~1 s (+ the rest at the end)
    assert len(writer.sends) > len(pushes) or load.cases == 0
