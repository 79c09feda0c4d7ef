"""The snapshot store: latest per key, stale updates refused, bounded, frames cached."""

from __future__ import annotations

from domain.schemas import WallUpdate
from wall.hub.protocol import SnapshotMsg, decode_hub
from wall.hub.state import SnapshotStore


def upd(key: str, ts: int, channel: str = "grid_metrics", **data: object) -> WallUpdate:
    return WallUpdate(channel=channel, key=key, ts=ts, data=dict(data))


def snapshot(store: SnapshotStore, channel: str) -> list[SnapshotMsg]:
    msgs = [decode_hub(f) for f in store.snapshot_frames(channel, "subscribe")]
    assert all(isinstance(m, SnapshotMsg) for m in msgs)
    return msgs  # type: ignore[return-value]


def test_latest_per_key_wins_and_stale_is_refused() -> None:
    store = SnapshotStore()
    assert store.apply(upd("G01", 10, load=1)) is not None
    assert store.apply(upd("G01", 20, load=2)) is not None
    assert store.apply(upd("G01", 15, load=9)) is None  # older than what is held
    assert store.apply(upd("G01", 20, load=3)) is not None  # equal ts: topic order wins
    assert store.stale == 1
    [msg] = snapshot(store, "grid_metrics")
    assert [(i.key, i.data) for i in msg.items] == [("G01", {"load": 3})]
    assert store.data("grid_metrics", "G01") == {"load": 3}
    assert store.data("grid_metrics", "nope") is None


def test_channels_are_separate_and_empty_ones_snapshot_empty() -> None:
    store = SnapshotStore()
    store.apply(upd("al-1", 1, channel="alerts", grid_id="G07"))
    [msg] = snapshot(store, "cases")
    assert (msg.part, msg.parts, msg.items) == (1, 1, [])
    assert store.grid_of("alerts", "al-1") == "G07"
    assert store.grid_of("cases", "al-1") is None
    assert store.counts()["alerts"] == 1


def test_bounded_per_channel_evicting_the_least_recently_updated() -> None:
    store = SnapshotStore(max_keys=3)
    for n, key in enumerate(["a", "b", "c", "a", "d"]):
        store.apply(upd(key, n))
    assert store.evicted == 1
    [msg] = snapshot(store, "grid_metrics")
    assert [i.key for i in msg.items] == ["c", "a", "d"]  # "b" was updated least recently


def test_snapshot_frames_are_split_and_cached_until_a_change() -> None:
    store = SnapshotStore(frame_items=2)
    for n in range(5):
        store.apply(upd(f"G{n}", n))
    frames = store.snapshot_frames("grid_metrics", "resync")
    msgs = [decode_hub(f) for f in frames]
    assert [(m.part, m.parts, len(m.items)) for m in msgs] == [  # type: ignore[union-attr]
        (1, 3, 2), (2, 3, 2), (3, 3, 1)]
    assert all(m.reason == "resync" for m in msgs)  # type: ignore[union-attr]
    assert store.snapshot_frames("grid_metrics", "resync") is frames
    store.apply(upd("G9", 9))
    assert store.snapshot_frames("grid_metrics", "resync") is not frames


def test_an_alert_change_replaces_the_held_form_whole_and_an_older_one_is_refused() -> None:
    store = SnapshotStore()
    assert store.apply(upd("al-1", 10, channel="alerts", status="open", shelved=True))
    assert store.apply(upd("al-1", 11, channel="alerts", status="resolved")) is not None
    assert store.data("alerts", "al-1") == {"status": "resolved"}  # one form, no merging
    assert store.apply(upd("al-1", 10, channel="alerts", status="open")) is None
    assert store.stale == 1
