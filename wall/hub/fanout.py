"""Fan-out: apply each update to the hub's state, then offer it to the subscribed clients.

:meth:`Fanout.publish` is synchronous and does O(subscribers) constant-time offers per
update; it never awaits a client. The state is updated before any client is offered the
item, which is what lets an :class:`~wall.hub.outbox.Outbox` build snapshots lazily.
"""

from __future__ import annotations

from collections.abc import Iterable

from domain.schemas import WallUpdate
from wall.hub.outbox import Outbox
from wall.hub.state import SnapshotStore
from wall.hub.stats import HubStats


class Fanout:
    """The clients, indexed by channel, and the state they are fed from."""

    def __init__(self, store: SnapshotStore, stats: HubStats) -> None:
        self.store = store
        self.stats = stats
        self.clients: set[Outbox] = set()
        self._by_channel: dict[str, set[Outbox]] = {}

    def attach(self, outbox: Outbox) -> None:
        """Start tracking a client (with no channels yet)."""
        self.clients.add(outbox)

    def detach(self, outbox: Outbox) -> None:
        """Forget a client and its subscriptions."""
        self.clients.discard(outbox)
        for members in self._by_channel.values():
            members.discard(outbox)
        self.stats.add_client_counters(outbox)

    def subscribe(self, outbox: Outbox, channels: Iterable[str]) -> None:
        """Subscribe ``outbox`` to ``channels``; each gets a snapshot first."""
        channels = list(channels)
        outbox.subscribe(channels)
        for channel in channels:
            self._by_channel.setdefault(channel, set()).add(outbox)

    def unsubscribe(self, outbox: Outbox, channels: Iterable[str]) -> None:
        """Stop sending ``channels`` to ``outbox``."""
        channels = list(channels)
        outbox.unsubscribe(channels)
        for channel in channels:
            self._by_channel.get(channel, set()).discard(outbox)

    def publish(self, updates: Iterable[WallUpdate]) -> None:
        """Apply each update to the state, offer the fresh ones to their subscribers, then
        pump every client offered something (one frame per client per batch when it keeps
        up; see :meth:`Outbox.pump`)."""
        touched: set[Outbox] = set()
        for update in updates:
            item = self.store.apply(update)
            if item is None:
                continue
            subscribers = self._by_channel.get(update.channel, ())
            for outbox in subscribers:
                outbox.offer(update.channel, item)
            touched.update(subscribers)
        for outbox in touched:
            outbox.pump()
