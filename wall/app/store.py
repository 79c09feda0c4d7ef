"""The wall's state: the latest ``data`` per (channel, key), built from snapshots and deltas.

Guarantees of :class:`WallStore` (pure; time is always passed in):

- :meth:`~WallStore.apply` keeps the latest update per (channel, key) and refuses one older
  than the one held (smaller ``ts``), like the hub, so a ClickHouse hydration racing the
  hub's snapshot cannot move an entity back in time. Equal ``ts`` replaces.
- Snapshots are merged like deltas (newest ``ts`` wins), never replace a channel: items
  hydrated from ClickHouse that the hub no longer holds stay on the wall.
- Each channel holds at most ``max_keys`` keys; beyond that the least recently updated is
  evicted. The recent-activity ring holds at most ``max_recent`` entries. Memory is bounded
  however long the wall runs.
- :attr:`~WallStore.tier_rises` maps a case id to when it was last escalated (the update's
  ``updated_ms``, else its ``ts``): its tier or ``escalations`` rose from the version held,
  or it was first seen live (``received_ms`` > 0: not hydrated) already escalated (the hub
  coalesces a report and its escalation into one update). Bounded by ``max_keys``.
- :attr:`~WallStore.version` grows on every accepted change, so views can be cached per
  version; :attr:`~WallStore.last_received_ms` is the local time of the last message,
  which is what freshness is judged by (never the producers' clocks).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from domain.contracts.channels import CHANNEL_NAMES
from domain.schemas import WallUpdate

CHANNELS: tuple[str, ...] = CHANNEL_NAMES  # domain.contracts.channels
# Channels whose new keys are "something happened on the street" (live dots, latest list).
ACTIVITY_CHANNELS: frozenset[str] = frozenset({"cases", "alerts"})


@dataclass(frozen=True, slots=True)
class Item:
    """What the store holds for one key: the producer's ``ts`` and the ``data``."""

    ts: int
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Activity:
    """Something that just happened: when the wall learned of it, where, and what."""

    received_ms: int
    channel: str
    key: str
    data: Mapping[str, Any]


class WallStore:
    """Latest item per (channel, key) plus a ring of recent activity; see module docstring."""

    def __init__(self, max_keys: int = 50_000, max_recent: int = 2_000) -> None:
        if max_keys < 1 or max_recent < 1:
            raise ValueError("max_keys and max_recent must be positive")
        self.max_keys = max_keys
        self._items: dict[str, OrderedDict[str, Item]] = {c: OrderedDict() for c in CHANNELS}
        self.recent: deque[Activity] = deque(maxlen=max_recent)
        self.version = 0
        self.last_received_ms = 0
        self.evicted = 0
        self.tier_rises: OrderedDict[str, int] = OrderedDict()

    def channel(self, name: str) -> Mapping[str, Item]:
        """The items of one channel (empty for an unknown channel); treat as read-only."""
        return self._items.get(name, {})

    def data(self, name: str) -> list[Mapping[str, Any]]:
        """The ``data`` of every item of a channel, least recently updated first."""
        return [item.data for item in self._items.get(name, {}).values()]

    def get(self, name: str, key: str) -> Mapping[str, Any] | None:
        """The ``data`` held for (channel, key), or None."""
        held = self._items.get(name)
        item = None if held is None else held.get(key)
        return None if item is None else item.data

    def apply(self, update: WallUpdate, received_ms: int) -> bool:
        """Hold ``update`` unless it is older than what is held; True if it was held.

        Unknown channels are ignored (False): a newer producer may add channels.
        """
        held = self._items.get(update.channel)
        if held is None:
            return False
        self.last_received_ms = max(self.last_received_ms, received_ms)
        old = held.get(update.key)
        if old is not None and update.ts < old.ts:
            return False
        held[update.key] = Item(update.ts, update.data)
        held.move_to_end(update.key)
        if len(held) > self.max_keys:
            held.popitem(last=False)
            self.evicted += 1
        if update.channel == "cases":
            self._note_tier_rise(update, None if old is None else old.data, received_ms)
        if old is None and update.channel in ACTIVITY_CHANNELS:
            self.recent.append(Activity(received_ms, update.channel, update.key, update.data))
        self.version += 1
        return True

    def _note_tier_rise(self, update: WallUpdate, before: Mapping[str, Any] | None,
                        received_ms: int) -> None:
        """Record when a case's tier rose (see :attr:`tier_rises`)."""
        try:
            tier, escalations = (int(update.data.get(k) or 0) for k in ("tier", "escalations"))
            at_ms = int(update.data.get("updated_ms") or update.ts)
            if before is None:  # first seen live already escalated: the hub coalesced it
                rose = received_ms > 0 and escalations > 0
            else:
                rose = tier > int(before.get("tier") or 0) or \
                    escalations > int(before.get("escalations") or 0)
        except (TypeError, ValueError):
            return
        if rose:
            self.tier_rises[update.key] = at_ms
            self.tier_rises.move_to_end(update.key)
            if len(self.tier_rises) > self.max_keys:
                self.tier_rises.popitem(last=False)

    def apply_all(self, updates: Iterable[WallUpdate], received_ms: int) -> int:
        """Apply each update in order; return how many were held."""
        return sum(self.apply(u, received_ms) for u in updates)

    def drop_where(self, name: str, predicate: Callable[[Item], bool]) -> int:
        """Forget the channel's items for which ``predicate`` holds; return how many."""
        held = self._items.get(name)
        if held is None:
            return 0
        doomed = [key for key, item in held.items() if predicate(item)]
        for key in doomed:
            del held[key]
        if doomed:
            self.version += 1
        return len(doomed)

    def touch(self, received_ms: int) -> None:
        """Record that the feed delivered something (even nothing new) at ``received_ms``."""
        self.last_received_ms = max(self.last_received_ms, received_ms)

    def counts(self) -> dict[str, int]:
        """Keys held per channel."""
        return {name: len(held) for name, held in self._items.items()}
