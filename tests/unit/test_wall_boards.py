"""Ranking, ticker, countdowns, sparklines and the live feed."""

from __future__ import annotations

from tests.unit.wall_support import MIN, NOW, alert, case, store_of, upd
from wall.app.boards import countdowns, live_feed, ranking, sparklines, ticker


def test_ranking_orders_by_rank_and_computes_trend() -> None:
    store = store_of(upd("ranking", "G2", rank=1, prev_rank=3, score=97.5),
                     upd("ranking", "G1", rank=2, prev_rank=1, score=95.0),
                     upd("ranking", "W1", kind="worker", rank=1, score=99.0),
                     upd("ranking", "G3", score=10.0))
    rows = ranking(store)
    assert [(r.grid_id, r.rank, r.trend) for r in rows] == [("G2", 1, 2), ("G1", 2, -1),
                                                           ("G3", 0, 0)]


def test_ranking_reads_the_street_list_published_by_the_workers() -> None:
    entries = [{"subject": "G7", "rank": 2, "score": 90.0, "rank_change": -1},
               {"subject": "G3", "rank": 1, "score": 95.0, "rank_change": 3},
               {"subject": "G9", "rank": None, "score": 99.0, "rank_change": None}]
    store = store_of(upd("ranking", "street", kind="grid", ranking=entries),
                     upd("ranking", "worker-1", kind="worker", subject="worker-1", rank=1))
    assert [(r.grid_id, r.rank, r.trend) for r in ranking(store)] == [
        ("G3", 1, 3), ("G7", 2, -1), ("G9", 0, 0)]


def test_ticker_skips_resolved_and_puts_newest_first() -> None:
    store = store_of(alert("a1", ts=NOW), alert("a2", ts=NOW + 2),
                     alert("a3", status="resolved", ts=NOW + 3))
    assert [r.alert_id for r in ticker(store)] == ["a2", "a1"]


def test_countdowns_nearest_deadline_first_and_only_open_cases() -> None:
    store = store_of(case("A", deadline_ms=NOW + 5 * MIN), case("B", deadline_ms=NOW - MIN),
                     case("C", "closed", deadline_ms=NOW), case("D"))
    rows = countdowns([(k, i.data) for k, i in store.channel("cases").items()], NOW)
    assert [(r.case_id, r.remaining_s) for r in rows] == [("B", -60.0), ("A", 300.0)]


def test_sparklines_bucket_reports_by_minute_per_community() -> None:
    community_of = {"G1": "c1", "G2": "c2"}
    store = store_of(case("A", grid_id="G1", opened_ms=NOW),
                     case("B", grid_id="G1", opened_ms=NOW - 2 * MIN),
                     case("C", grid_id="G1", opened_ms=NOW - 60 * MIN),
                     case("D", grid_id="G2", opened_ms=NOW - MIN, ts=NOW))
    series = sparklines(store, community_of, NOW, minutes=5)
    assert series["c1"] == [0, 0, 1, 0, 1]
    assert series["c2"] == [0, 0, 0, 1, 0]


def test_live_feed_newest_first_within_window() -> None:
    store = store_of(case("old"), received_ms=NOW - 20 * MIN)
    store.apply(case("new"), NOW)
    assert [k for _, k, _ in live_feed(store, NOW, window_s=600)] == ["new"]
