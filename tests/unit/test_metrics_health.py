"""Job health: rates over a window, latency percentiles, lag, sink figures, Prometheus text."""

from __future__ import annotations

from streams.health.job import JobHealth, RateMeter, prometheus_text


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
    h.lag("readings", 0, 12)
    h.lag("readings", 1, -3)  # a stale end offset never shows negative lag
    h.sink_insert(10_000, 10_000)
    h.sink_insert(20_000, 10_500)
    h.set_recovery("metrics", 1.5)
    snap = h.snapshot(10_500)
    s = snap["agents"]["sensors"]
    assert (s["events_per_s"], s["messages_per_s"]) == (30_000.0, 300.0)
    assert (s["latency_p50_ms"], s["latency_p99_ms"]) == (50.0, 99.0)
    assert snap["lag"] == {"readings": {"0": 12, "1": 0}} and snap["lag_total"] == 12
    assert snap["sink"] == {"rows_per_s": 30_000.0, "rows_total": 30_000,
                            "batch_mean": 15_000.0, "batch_max": 20_000}
    assert snap["recovery"] == {"metrics": 1.0}
    text = prometheus_text(h, 10_500)
    assert 'gridwall_agent_events_per_second{worker="w1",agent="sensors"} 30000' in text
    assert 'gridwall_consumer_lag{worker="w1",topic="readings",partition="0"} 12' in text
    assert 'gridwall_agent_latency_ms{worker="w1",agent="sensors",quantile="99"} 99' in text
    assert "# TYPE gridwall_sink_rows_total counter" in text
