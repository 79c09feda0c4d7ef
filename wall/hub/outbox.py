"""One client's bounded outgoing queue, which turns overflow into a fresh snapshot.

The fan-out only calls :meth:`Outbox.offer` and :meth:`Outbox.pump`, which never block and
never wait for the client: a slow client cannot slow the hub or the other clients.
Guarantees:

- At most ``limit`` delta items wait per client. The one that would exceed it drops every
  waiting item and marks each subscribed channel for a ``resync`` snapshot instead; until
  that snapshot is taken, new items of those channels are not queued (the snapshot, built
  when taken, will contain them).
- :meth:`Outbox.take` returns, in order: pending replies, then the snapshot frames of the
  channels marked (built from the hub's state at that moment), then the waiting items
  grouped into ``deltas`` frames of at most ``frame_items``. Because snapshots are built
  when taken and the items of a marked channel are not queued meanwhile, a client never
  receives an item older than a snapshot sent before it.
- Replies (acks, errors, health) are never dropped; more than ``reply_limit`` unread
  replies raise :class:`RepliesOverflow` (the session closes the connection).
- Two ways out, one order: the session's writer task (``wait``/``take``, then awaited sends
  that respect the socket's backpressure) and :meth:`Outbox.pump`, which hands what waits
  to a :class:`DirectWriter` synchronously when the socket can take it at once. ``pump``
  does nothing while the writer task holds taken frames (:attr:`Outbox.sending`), so frames
  always leave in ``take`` order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from typing import Literal, Protocol

from wall.hub.protocol import deltas_frame

Reason = Literal["subscribe", "resync"]
# (channel, reason) -> snapshot frames of the channel as of now.
SnapshotSource = Callable[[str, str], list[bytes]]


class DirectWriter(Protocol):
    """Writes frames to a socket without waiting, when its buffer has room."""

    def can_write(self) -> bool:
        """True if a write now would not exceed the socket's write buffer high-water mark."""
        ...

    def write(self, frame: bytes) -> None:
        """Write one frame now (never blocks, never raises for a closed socket)."""
        ...


class RepliesOverflow(RuntimeError):
    """The client sent requests but did not read the replies."""


class Outbox:
    """Bounded queue of one client's outgoing frames; see the module docstring."""

    def __init__(self, snapshots: SnapshotSource, limit: int = 2048, reply_limit: int = 64,
                 frame_items: int = 256) -> None:
        if limit < 1 or reply_limit < 1 or frame_items < 1:
            raise ValueError("limit, reply_limit and frame_items must be positive")
        self._snapshots = snapshots
        self.limit = limit
        self.reply_limit = reply_limit
        self.frame_items = frame_items
        self.channels: dict[str, None] = {}  # subscribed, in subscription order
        self._pending: dict[str, Reason] = {}  # channels owed a snapshot
        self._items: list[tuple[str, bytes]] = []
        self._replies: deque[bytes] = deque()
        self._ready = asyncio.Event()
        self.closed = False
        self.sending = False  # the writer task holds taken frames it has not sent yet
        self.direct: DirectWriter | None = None
        self.overflows = 0
        self.dropped_items = 0
        self.frames_taken = 0
        self.items_taken = 0

    def subscribe(self, channels: Iterable[str]) -> None:
        """Add channels and owe each a ``subscribe`` snapshot (again, if already held)."""
        for channel in channels:
            self.channels[channel] = None
            self._drop_items_of(channel)
            self._pending[channel] = "subscribe"
        self._ready.set()

    def unsubscribe(self, channels: Iterable[str]) -> None:
        """Remove channels, with their waiting items and owed snapshots."""
        for channel in channels:
            self.channels.pop(channel, None)
            self._pending.pop(channel, None)
            self._drop_items_of(channel)

    def offer(self, channel: str, item: bytes) -> bool:
        """Queue a delta item; False if it overflowed the queue (a resync is now owed)."""
        if channel not in self.channels or channel in self._pending:
            return True
        if len(self._items) >= self.limit:
            self.overflows += 1
            self.dropped_items += len(self._items) + 1
            self._items.clear()
            for subscribed in self.channels:
                self._pending[subscribed] = "resync"
            self._ready.set()
            return False
        self._items.append((channel, item))
        self._ready.set()
        return True

    def reply(self, frame: bytes) -> None:
        """Queue a reply; raise :class:`RepliesOverflow` beyond ``reply_limit`` unread."""
        if len(self._replies) >= self.reply_limit:
            raise RepliesOverflow(f"more than {self.reply_limit} unread replies")
        self._replies.append(frame)
        self._ready.set()

    def pending_items(self) -> int:
        """Delta items waiting."""
        return len(self._items)

    def take(self) -> list[bytes]:
        """Everything to send now, in order (see the module docstring); empties the outbox."""
        frames = list(self._replies)
        self._replies.clear()
        for channel, reason in self._pending.items():
            frames.extend(self._snapshots(channel, reason))
        self._pending.clear()
        items = [item for _, item in self._items]
        self._items.clear()
        size = self.frame_items
        frames.extend(deltas_frame(items[i:i + size]) for i in range(0, len(items), size))
        self.frames_taken += len(frames)
        self.items_taken += len(items)
        if not self.closed:
            self._ready.clear()
        return frames

    def pump(self) -> bool:
        """Write what waits through :attr:`direct` now if it can; True if it did.

        Otherwise the writer task (woken by the same event) sends it with backpressure.
        """
        direct = self.direct
        if (direct is None or self.sending or not self._ready.is_set() or self.closed
                or not direct.can_write()):
            return False
        for frame in self.take():
            direct.write(frame)
        return True

    async def wait(self) -> None:
        """Return when there is something to take or the outbox was closed."""
        await self._ready.wait()

    def close(self) -> None:
        """Wake the writer for good; :meth:`take` returns what is left."""
        self.closed = True
        self._ready.set()

    def _drop_items_of(self, channel: str) -> None:
        if any(c == channel for c, _ in self._items):
            self._items = [(c, i) for c, i in self._items if c != channel]
