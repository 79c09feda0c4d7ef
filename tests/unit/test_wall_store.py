"""WallStore: latest per key, refusing older updates, bounded, activity ring, version."""

from __future__ import annotations

from tests.unit.wall_support import NOW, alert, case, store_of, upd
from wall.app.store import WallStore


def test_latest_update_per_key_wins_and_older_is_refused() -> None:
    store = store_of(case("C1", "reported", ts=NOW))
    assert store.apply(case("C1", "verified", ts=NOW + 5), NOW)
    assert not store.apply(case("C1", "reported", ts=NOW + 1), NOW)
    assert store.get("cases", "C1")["step"] == "verified"  # type: ignore[index]


def test_equal_ts_replaces() -> None:
    store = store_of(case("C1", "reported"))
    assert store.apply(case("C1", "verified"), NOW)
    assert store.get("cases", "C1")["step"] == "verified"  # type: ignore[index]


def test_unknown_channel_is_ignored() -> None:
    store = WallStore()
    assert not store.apply(upd("weather", "x"), NOW)
    assert store.version == 0


def test_keys_are_bounded_least_recently_updated_evicted() -> None:
    store = WallStore(max_keys=2)
    for i in range(3):
        store.apply(case(f"C{i}", ts=NOW + i), NOW)
    assert sorted(store.channel("cases")) == ["C1", "C2"]
    assert store.evicted == 1


def test_new_keys_of_activity_channels_enter_the_recent_ring_once() -> None:
    store = WallStore(max_recent=3)
    store.apply(case("C1"), NOW)
    store.apply(case("C1", "verified", ts=NOW + 1), NOW + 1)
    store.apply(upd("job_health", "w1"), NOW + 2)
    assert [a.key for a in store.recent] == ["C1"]
    for i in range(5):
        store.apply(alert(f"A{i}"), NOW + 10 + i)
    assert [a.key for a in store.recent] == ["A2", "A3", "A4"]


def test_the_store_has_no_events_channel() -> None:
    """Nothing produces an ``events`` channel: the wall neither holds nor draws one."""
    store = WallStore()
    assert not store.apply(upd("events", "E1", grid_id="G01"), NOW)
    assert "events" not in store.counts() and not store.recent


def test_version_and_last_received_move_forward() -> None:
    store = WallStore()
    store.apply(case("C1"), NOW + 10)
    store.touch(NOW + 5)
    assert store.version == 1
    assert store.last_received_ms == NOW + 10
    store.touch(NOW + 20)
    assert store.last_received_ms == NOW + 20


def test_prune_forgets_only_what_no_view_needs() -> None:
    from wall.app.fields import day_start_ms
    from wall.app.retention import prune

    yesterday = day_start_ms(NOW) - 1
    store = store_of(case("done-old", "closed", ts=yesterday),
                     case("open-old", "handled", ts=yesterday),
                     case("done-today", "evaluated"),
                     alert("res-old", status="resolved", ts=yesterday),
                     alert("open-old", status="open", ts=yesterday))
    assert prune(store, NOW) == {"cases": 1, "alerts": 1}
    assert sorted(store.channel("cases")) == ["done-today", "open-old"]
    assert sorted(store.channel("alerts")) == ["open-old"]
