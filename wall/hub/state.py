"""The hub's state: the latest item per (channel, key), bounded, with cached snapshot frames.

Guarantees of :class:`SnapshotStore`:

- :meth:`~SnapshotStore.apply` keeps the latest update per (channel, key); an update older
  than the one held (smaller ``ts``) is refused, so a replayed or late record cannot move a
  key back in time. Equal ``ts`` replaces (topic order wins).
- Each channel holds at most ``max_keys`` keys; beyond that the key updated least recently
  is evicted (counted in :attr:`~SnapshotStore.evicted`).
- :meth:`~SnapshotStore.snapshot_frames` returns the channel's items, oldest update first,
  in frames of at most ``frame_items`` items; the frames are built once per change of the
  channel and shared by every client that asks until the next change (so the cache holds
  at most two copies of the state: one per reason).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import msgspec

from domain.schemas import WallUpdate
from wall.hub.protocol import CHANNELS, encode_item, snapshot_frame


class _Held(msgspec.Struct):
    ts: int
    item: bytes


class SnapshotStore:
    """Latest encoded item per (channel, key) of the known channels."""

    def __init__(self, max_keys: int = 50_000, frame_items: int = 500) -> None:
        if max_keys < 1 or frame_items < 1:
            raise ValueError("max_keys and frame_items must be positive")
        self.max_keys = max_keys
        self.frame_items = frame_items
        self._items: dict[str, OrderedDict[str, _Held]] = {c: OrderedDict() for c in CHANNELS}
        self._version: dict[str, int] = dict.fromkeys(CHANNELS, 0)
        self._frames: dict[tuple[str, str], tuple[int, list[bytes]]] = {}
        self.evicted = 0
        self.stale = 0

    def apply(self, update: WallUpdate) -> bytes | None:
        """Hold ``update`` if it is not older than what is held; return its encoded item.

        Returns None (and holds nothing) for a stale update. The channel must be one of
        :data:`~wall.hub.protocol.CHANNELS` (the feed refuses others before this point).
        """
        held = self._items[update.channel]
        old = held.get(update.key)
        if old is not None and update.ts < old.ts:
            self.stale += 1
            return None
        item = encode_item(update)
        held[update.key] = _Held(update.ts, item)
        held.move_to_end(update.key)
        if len(held) > self.max_keys:
            held.popitem(last=False)
            self.evicted += 1
        self._version[update.channel] += 1
        return item

    def snapshot_frames(self, channel: str, reason: str) -> list[bytes]:
        """The channel's ``snapshot`` frames (at least one, possibly with no items)."""
        version = self._version[channel]
        cached = self._frames.get((channel, reason))
        if cached is not None and cached[0] == version:
            return cached[1]
        items = [h.item for h in self._items[channel].values()]
        size = self.frame_items
        chunks = [items[i:i + size] for i in range(0, len(items), size)] or [[]]
        frames = [snapshot_frame(channel, reason, n, len(chunks), chunk)
                  for n, chunk in enumerate(chunks, start=1)]
        self._frames[(channel, reason)] = (version, frames)
        return frames

    def data(self, channel: str, key: str) -> dict[str, Any] | None:
        """The ``data`` of the held item, decoded afresh (None when not held)."""
        channel_items = self._items.get(channel)
        held = channel_items.get(key) if channel_items is not None else None
        if held is None:
            return None
        return msgspec.json.decode(held.item, type=WallUpdate).data

    def grid_of(self, channel: str, key: str) -> str | None:
        """The ``grid_id`` in the held item's data, if it has a string one."""
        grid = (self.data(channel, key) or {}).get("grid_id")
        return grid if isinstance(grid, str) and grid else None

    def counts(self) -> dict[str, int]:
        """Keys held per channel."""
        return {channel: len(held) for channel, held in self._items.items()}
