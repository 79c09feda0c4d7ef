"""bench.wall_rss sends only channels the worker produces, job health in the worker's shape."""

from __future__ import annotations

from bench.wall_rss import SyntheticStreet, full_warmup_s, job_health
from wall.app.opsview import partition_lags, recovery_rows, workers
from wall.app.store import WallStore
from wall.hub.protocol import CHANNELS

NOW = 1_800_000_000_000


def test_synthetic_street_sends_only_the_walls_channels() -> None:
    street = SyntheticStreet(cases_per_s=5.0)
    updates = [u for t in range(20) for u in street.tick(NOW + t * 200, 0.2)]
    channels = {u.channel for u in updates}
    assert channels <= set(CHANNELS)
    assert {"cases", "grid_metrics", "job_health"} <= channels


def test_job_health_is_read_by_the_ops_console_like_a_workers() -> None:
    store = WallStore()
    for update in SyntheticStreet(cases_per_s=1.0).tick(NOW, 1.0):
        store.apply(update, NOW)
    [worker] = workers(store, NOW)
    assert (worker.total_lag, worker.recovery, worker.latency_p99_ms) == (0, 1.0, 120.0)
    lags = partition_lags(store)
    assert {c for _, c, _, _ in lags} == {"agents", "sensors", "registers", "street", "sink"}
    assert all("/" in part for _, _, part, _ in lags)  # topic/partition
    assert {(r.table, r.progress) for r in recovery_rows(store)} == {("cases", 1.0),
                                                                    ("alerts", 1.0)}
    lagging = job_health(NOW, lag=2)
    assert lagging["lag_total"] == sum(v for t in lagging["lag"].values()
                                       for p in t.values() for v in p.values())


def test_full_warmup_is_the_activity_rings_fill_plus_two_prune_rounds() -> None:
    assert full_warmup_s(2.0, 0.2) == 2_000 / 2.2 + 120  # ~17 minutes at the defaults
