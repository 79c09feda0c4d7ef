"""Per-client queues: a client that falls behind is resynced; the others are untouched."""

from __future__ import annotations

import asyncio

import pytest

from domain.schemas import WallUpdate
from wall.hub.fanout import Fanout
from wall.hub.outbox import Outbox, RepliesOverflow
from wall.hub.protocol import DeltasMsg, SnapshotMsg, decode_hub
from wall.hub.state import SnapshotStore
from wall.hub.stats import HubStats


def upd(key: str, ts: int, channel: str = "grid_metrics") -> WallUpdate:
    return WallUpdate(channel=channel, key=key, ts=ts, data={"n": ts})


def setup(limit: int = 4) -> tuple[Fanout, Outbox, Outbox]:
    fanout = Fanout(SnapshotStore(), HubStats())
    fast, slow = (Outbox(fanout.store.snapshot_frames, limit=limit) for _ in range(2))
    for box in (fast, slow):
        fanout.attach(box)
        fanout.subscribe(box, ["grid_metrics", "alerts"])
    return fanout, fast, slow


def messages(box: Outbox) -> list[object]:
    return [decode_hub(f) for f in box.take()]


def delta_keys(msgs: list[object]) -> list[str]:
    return [i.key for m in msgs if isinstance(m, DeltasMsg) for i in m.items]


def test_subscribe_sends_snapshots_then_deltas_in_order() -> None:
    fanout, fast, _ = setup()
    fanout.publish([upd("G1", 1)])
    first = messages(fast)
    assert [(m.channel, m.reason) for m in first] == [  # type: ignore[attr-defined]
        ("grid_metrics", "subscribe"), ("alerts", "subscribe")]
    assert [i.key for i in first[0].items] == ["G1"]  # type: ignore[attr-defined]
    fanout.publish([upd("G2", 2), upd("al-1", 3, "alerts"), upd("G1", 4)])
    assert delta_keys(messages(fast)) == ["G2", "al-1", "G1"]
    assert fast.take() == []


def test_overflow_drops_the_queue_and_resyncs_only_that_client() -> None:
    fanout, fast, slow = setup(limit=4)
    fast.take()
    slow.take()
    for n in range(10):
        fanout.publish([upd(f"G{n}", n)])
        delivered = delta_keys(messages(fast))  # the fast client keeps up
        assert delivered == [f"G{n}"]
    assert (fast.overflows, slow.overflows) == (0, 1)
    msgs = messages(slow)
    assert all(isinstance(m, SnapshotMsg) and m.reason == "resync" for m in msgs)
    grid = next(m for m in msgs if m.channel == "grid_metrics")  # type: ignore[attr-defined]
    assert sorted(i.key for i in grid.items) == [f"G{n}" for n in range(10)]
    # after the resync, deltas flow again
    fanout.publish([upd("G3", 99)])
    assert delta_keys(messages(slow)) == ["G3"]


def test_an_item_older_than_a_sent_snapshot_is_never_sent_after_it() -> None:
    fanout, _, slow = setup(limit=2)
    slow.take()
    fanout.publish([upd("G1", 1), upd("G1", 2), upd("G1", 3)])  # overflow on the third
    fanout.publish([upd("G1", 4)])  # covered by the owed snapshot, not queued
    msgs = messages(slow)
    assert delta_keys(msgs) == []
    grid = next(m for m in msgs if m.channel == "grid_metrics")  # type: ignore[attr-defined]
    assert [(i.key, i.ts) for i in grid.items] == [("G1", 4)]


def test_unsubscribed_channels_are_not_sent_and_queued_items_are_dropped() -> None:
    fanout, fast, _ = setup()
    fast.take()
    fanout.publish([upd("al-1", 1, "alerts"), upd("G1", 1)])
    fanout.unsubscribe(fast, ["alerts"])
    fanout.publish([upd("al-2", 2, "alerts")])
    assert delta_keys(messages(fast)) == ["G1"]


def test_resubscribing_replaces_queued_items_with_a_snapshot() -> None:
    fanout, fast, _ = setup()
    fast.take()
    fanout.publish([upd("G1", 1)])
    fanout.subscribe(fast, ["grid_metrics"])
    msgs = messages(fast)
    assert delta_keys(msgs) == []
    assert [m.reason for m in msgs] == ["subscribe"]  # type: ignore[attr-defined]


def test_replies_come_first_and_are_bounded() -> None:
    fanout, fast, _ = setup()
    fast.take()
    fanout.publish([upd("G1", 1)])
    fast.reply(b'{"type":"subscribed","channels":[]}')
    frames = fast.take()
    assert frames[0].startswith(b'{"type":"subscribed"')
    box = Outbox(fanout.store.snapshot_frames, reply_limit=2)
    box.reply(b"{}")
    box.reply(b"{}")
    with pytest.raises(RepliesOverflow):
        box.reply(b"{}")


def test_deltas_are_split_into_bounded_frames() -> None:
    fanout = Fanout(SnapshotStore(), HubStats())
    box = Outbox(fanout.store.snapshot_frames, limit=100, frame_items=3)
    fanout.subscribe(box, ["cases"])
    box.take()
    fanout.publish([upd(f"e{n}", n, "cases") for n in range(7)])
    sizes = [len(m.items) for m in messages(box)]  # type: ignore[attr-defined]
    assert sizes == [3, 3, 1]
    assert (box.frames_taken, box.items_taken) == (4, 7)


async def test_wait_wakes_on_offer_and_on_close() -> None:
    fanout, fast, _ = setup()
    fast.take()
    waiter = asyncio.create_task(fast.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    fanout.publish([upd("G1", 1)])
    await asyncio.wait_for(waiter, 1)
    fast.take()
    fast.close()
    await asyncio.wait_for(fast.wait(), 1)


def test_detached_client_counters_are_kept_in_the_totals() -> None:
    fanout, fast, slow = setup(limit=1)
    fast.take()
    slow.take()
    fanout.publish([upd("G1", 1), upd("G2", 2)])
    fanout.detach(slow)
    figures = fanout.stats.figures(fanout.clients, fanout.store.counts(), 0, "running")
    assert figures["overflows"] == 2 and figures["clients"] == 1
    assert figures["keys"]["grid_metrics"] == 2


class FakeSocket:
    """A DirectWriter whose buffer is either free or full."""

    def __init__(self) -> None:
        self.free = True
        self.frames: list[bytes] = []

    def can_write(self) -> bool:
        return self.free

    def write(self, frame: bytes) -> None:
        self.frames.append(frame)


def test_pump_writes_directly_only_when_the_socket_has_room_and_no_frames_are_held() -> None:
    fanout, fast, _ = setup(limit=8)
    sock = FakeSocket()
    fast.direct = sock
    fanout.publish([upd("G1", 1), upd("G2", 2)])  # publish pumps: snapshots, then the deltas
    assert [type(decode_hub(f)) for f in sock.frames] == [SnapshotMsg, SnapshotMsg]
    assert fast.take() == []
    sock.free = False
    fanout.publish([upd("G3", 3)])
    assert len(sock.frames) == 2 and fast.pending_items() == 1  # left for the writer task
    sock.free, fast.sending = True, True
    assert not fast.pump()  # the writer task holds frames: writing now would reorder
    fast.sending = False
    assert fast.pump()
    assert delta_keys([decode_hub(sock.frames[-1])]) == ["G3"]
