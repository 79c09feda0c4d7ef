"""Job health: rates over a window, latency percentiles, lag, sink figures, Prometheus text."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from streams.health.job import JobHealth, RateMeter, prometheus_text
from streams.health.lag import consumer_lags
from streams.health.loop_lag import probe_loop
from streams.health.recovery import PartitionRecovery, faust_recovery


def test_rate_meter_slides() -> None:
    m = RateMeter(window_ms=10_000)
    m.add(500, 1_000)
    m.add(1_500, 5_000)
    assert m.rate(5_000) == 200.0  # 2000 events over 10 s
    assert m.rate(11_000) == 150.0  # the first mark left the window
    assert m.total == 2_000


def test_snapshot_and_prometheus_text() -> None:
    h = JobHealth("w1", window_ms=1_000)
    h.count("sensors", events=30_000, messages=300, now_ms=10_000)
    for ms in range(1, 101):
        h.latency("sensors", float(ms))
    h.count("cases", events=5, messages=5, now_ms=10_000)  # counted, no latency sample yet
    h.set_lags("sensors", {("readings", 0): 12, ("readings", 1): -3})  # stale end: never < 0
    h.set_lags("sink", {("readings", 0): 7})
    h.sink_insert(10_000, 10_000)
    h.sink_insert(20_000, 10_500)
    h.set_recovery({"cases": {0: PartitionRecovery(99, 99), 1: PartitionRecovery(24, 99)}})
    snap = h.snapshot(10_500)
    s = snap["agents"]["sensors"]
    assert (s["events_per_s"], s["messages_per_s"]) == (30_000.0, 300.0)
    assert (s["latency_p50_ms"], s["latency_p99_ms"]) == (50.0, 99.0)
    assert (snap["agents"]["cases"]["latency_p50_ms"], snap["agents"]["cases"]["latency_p99_ms"]
            ) == (None, None)
    assert snap["lag"] == {"sensors": {"readings": {"0": 12, "1": 0}},
                           "sink": {"readings": {"0": 7}}}
    assert snap["lag_total"] == 19
    assert snap["sink"] == {"rows_per_s": 30_000.0, "rows_total": 30_000,
                            "batch_mean": 15_000.0, "batch_max": 20_000}
    cases = snap["recovery"]["cases"]
    assert (cases["progress"], cases["remaining"]) == (0.25, 75)
    assert cases["partitions"]["0"] == {"offset": 99, "highwater": 99, "remaining": 0,
                                        "progress": 1.0}
    text = prometheus_text(h, 10_500)
    assert 'gridwall_agent_events_per_second{worker="w1",agent="sensors"} 30000' in text
    assert ('gridwall_consumer_lag{worker="w1",consumer="sink",topic="readings",partition="0"}'
            ' 7') in text
    assert 'gridwall_agent_latency_ms{worker="w1",agent="sensors",quantile="99"} 99' in text
    assert 'agent="cases",quantile' not in text  # unknown latency is not exported as 0
    assert 'gridwall_recovery_progress{worker="w1",table="cases",partition="1"} 0.25' in text
    assert 'gridwall_recovery_remaining{worker="w1",table="cases",partition="1"} 75' in text
    assert "# TYPE gridwall_sink_rows_total counter" in text


def test_a_new_sample_replaces_the_old_so_lost_partitions_drop_out() -> None:
    h = JobHealth("w1")
    h.set_lags("agents", {("cases", 0): 5, ("cases", 1): 6})
    h.set_recovery({"cases": {0: PartitionRecovery(1, 5), 1: PartitionRecovery(1, 5)}})
    h.set_lags("agents", {("cases", 1): 2})
    h.set_recovery({"cases": {1: PartitionRecovery(5, 5)}})
    snap = h.snapshot(0)
    assert snap["lag"] == {"agents": {"cases": {"1": 2}}}
    assert list(snap["recovery"]["cases"]["partitions"]) == ["1"]


def test_partition_recovery_figures() -> None:
    assert (PartitionRecovery(-1, -1).progress, PartitionRecovery(-1, -1).remaining) == (1.0, 0)
    assert (PartitionRecovery(-1, 9).progress, PartitionRecovery(-1, 9).remaining) == (0.0, 10)
    assert PartitionRecovery(4, 9).progress == 0.5
    unknown = PartitionRecovery(None, 9)
    assert (unknown.progress, unknown.remaining) == (None, None)
    h = JobHealth("w")
    h.set_recovery({"alerts": {0: PartitionRecovery(9, 9), 1: PartitionRecovery(3, None)}})
    alerts = h.snapshot(0)["recovery"]["alerts"]
    assert (alerts["progress"], alerts["remaining"]) == (None, None)  # unknown, not done


def test_faust_recovery_reads_the_recovery_services_offsets_and_highwaters() -> None:
    from faust.types import TP

    @dataclass(frozen=True)
    class Table:
        name: str

    cases, alerts = Table("cases"), Table("alerts")
    c0, c1, a0 = TP("c-changelog", 0), TP("c-changelog", 1), TP("a-changelog", 0)
    recovery = SimpleNamespace(actives_for_table={cases: {c0, c1}, alerts: {a0}},
                               active_offsets={c0: 41, c1: 3, a0: None},
                               active_highwaters={c0: 41, c1: 7})
    app = SimpleNamespace(tables=SimpleNamespace(recovery=recovery))
    assert faust_recovery(app) == {
        "cases": {0: PartitionRecovery(41, 41), 1: PartitionRecovery(3, 7)},
        "alerts": {0: PartitionRecovery(None, None)}}
    assert faust_recovery(SimpleNamespace()) == {}


class FakeConsumer:
    """The consumer calls consumer_lags makes (aiokafka's and Faust's share them)."""

    def __init__(self, positions: dict[Any, int | None], highwaters: dict[Any, int | None]
                 ) -> None:
        self.positions, self.highwaters = positions, highwaters

    def assignment(self) -> set[Any]:
        return set(self.positions)

    async def position(self, tp: Any) -> int | None:
        if tp.topic == "moving":
            raise RuntimeError("partition is not assigned")
        return self.positions[tp]

    def highwater(self, tp: Any) -> int | None:
        return self.highwaters[tp]


def test_consumer_lags_leave_out_unknown_partitions_and_skipped_topics() -> None:
    from aiokafka import TopicPartition as TP

    consumer = FakeConsumer({TP("rows", 0): 10, TP("rows", 1): None, TP("rows", 2): 4,
                             TP("x-changelog", 0): 0, TP("moving", 0): 1},
                            {TP("rows", 0): 15, TP("rows", 1): 9, TP("rows", 2): None,
                             TP("x-changelog", 0): 9, TP("moving", 0): 9})
    lags = asyncio.run(consumer_lags(consumer, ("-changelog",)))
    assert lags == {("rows", 0): 5}


def test_loop_lag_percentiles_and_prometheus_quantiles() -> None:
    h = JobHealth("w1")
    assert h.snapshot(0)["loop_lag"] == {"p50_ms": None, "p99_ms": None, "max_ms": None}
    assert "gridwall_event_loop_lag_ms{" not in prometheus_text(h, 0)  # unknown: no sample
    for ms in range(1, 101):
        h.loop_lag(float(ms))
    assert h.snapshot(0)["loop_lag"] == {"p50_ms": 50.0, "p99_ms": 99.0, "max_ms": 100.0}
    text = prometheus_text(h, 0)
    assert 'gridwall_event_loop_lag_ms{worker="w1",quantile="99"} 99' in text
    assert 'gridwall_event_loop_lag_ms{worker="w1",quantile="100"} 100' in text


def test_the_probe_sees_a_handler_that_blocks_the_loop() -> None:
    """A synchronous 300 ms stretch delays the probe's next wake-up by about as much."""
    h = JobHealth("w1")

    async def scenario() -> None:
        stopping = asyncio.Event()
        probe = asyncio.ensure_future(probe_loop(h, stopping, period_s=0.01))
        await asyncio.sleep(0.05)
        time.sleep(0.3)  # a handler that never awaits
        await asyncio.sleep(0.05)
        stopping.set()
        await probe

    asyncio.run(scenario())
    assert len(h.loop_lag_ms) >= 2
    assert max(h.loop_lag_ms) >= 250  # the blocked stretch, less the probe's own period
    assert min(h.loop_lag_ms) >= 0
