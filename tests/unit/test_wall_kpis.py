"""KPI tiles, funnel and categories from hand-built case and alert sets."""

from __future__ import annotations

from tests.unit.wall_support import MIN, NOW, alert, case, store_of, upd
from wall.app.fields import DAY_MS, day_start_ms
from wall.app.kpis import categories, count_cases, funnel, kpi_tiles, percent


def _tiles(store, sensors=10):  # type: ignore[no-untyped-def]
    counts = count_cases(store.data("cases"), NOW)
    return {t.key: t for t in kpi_tiles(store, counts, sensors, NOW)}


def test_day_start_is_local_midnight_utc_plus_8() -> None:
    start = day_start_ms(NOW)
    assert start <= NOW < start + DAY_MS
    assert (start + 8 * 3600 * 1000) % DAY_MS == 0


def test_counts_from_cases() -> None:
    yesterday = day_start_ms(NOW) - 1
    store = store_of(
        case("A", "reported", deadline_ms=NOW - 1),          # open, overdue
        case("B", "dispatched", deadline_ms=NOW + 10 * MIN),  # open
        case("C", "closed"),                                  # closed on time
        case("D", "evaluated", breaches=1),                   # closed late
        case("E", "handled", opened_ms=yesterday, category="noise"),  # open from yesterday
        case("F", "closed", opened_ms=yesterday, ts=yesterday),       # closed yesterday
        case("R", "rejected"),
    )
    counts = count_cases(store.data("cases"), NOW)
    assert counts.reported_today == 5
    assert counts.closed_today == 2
    assert counts.on_time_rate == 0.5
    assert counts.open == 3
    assert counts.overdue == 1
    assert funnel(counts) == [("reported", 5), ("verified", 4), ("dispatched", 4),
                              ("handled", 3), ("closed", 2), ("evaluated", 1)]
    assert categories(counts) == [("environment", 2), ("noise", 1)]


def test_funnel_never_increases() -> None:
    store = store_of(*(case(f"C{i}", step) for i, step in enumerate(
        ["reported", "verified", "closed", "evaluated", "dispatched", "handled"] * 3)))
    values = [n for _, n in funnel(count_cases(store.data("cases"), NOW))]
    assert values == sorted(values, reverse=True)


def test_tiles_ignore_partial_street_metrics() -> None:
    store = store_of(case("A", "reported"), case("B", "closed"),
                     upd("grid_metrics", "street", level="street", open_backlog=40, overdue=3))
    tiles = _tiles(store)
    assert (tiles["kpi.reported"].value, tiles["kpi.open"].value) == ("2", "1")
    assert tiles["kpi.on_time"].value == "100.0%"
    assert tiles["kpi.on_time"].tone == "ok"
    assert tiles["kpi.overdue"].tone == "ok"


def test_alert_tiles_and_dead_sensors() -> None:
    store = store_of(alert("a1", status="open"), alert("a2", status="acknowledged"),
                     alert("a3", status="resolved"),
                     alert("a4", status="open", silenced_until_ms=NOW + MIN),
                     alert("a5", kind="sensor_dead", sensor_id="S1", status="acknowledged"))
    tiles = _tiles(store)
    assert tiles["kpi.alerts"].value == "4"
    assert tiles["kpi.unacked"].value == "1"
    assert tiles["kpi.sensors"].value == "9/10"


def test_empty_store_gives_placeholders_not_errors() -> None:
    tiles = _tiles(store_of())
    assert tiles["kpi.on_time"].value == "—"
    assert tiles["kpi.reported"].value == "0"
    assert percent(None) == "—"
