"""Making client retries safe: ids seen within a window are duplicates.

:class:`Deduper` is an in-memory TTL map owned by one event loop (one gateway process; with
several ``--workers`` each has its own map). Guarantees, for keys claimed on that loop:

* a key is marked seen only by :meth:`Claim.commit`, i.e. after Kafka acknowledged its
  records; a failed attempt leaves it unseen, so the client's retry is produced;
* while an attempt with a key is in flight, a second claim of the same key waits for it and
  then sees the outcome (a duplicate if it was committed), so concurrent retries are not
  produced twice;
* a committed key stays seen for ``window_s`` seconds unless more than ``max_keys`` keys are
  held, in which case the oldest are forgotten first.

``None`` keys (inputs without a client id) are never duplicates.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence


class Claim:
    """The outcome of :meth:`Deduper.claim`: which keys are fresh, and their in-flight hold."""

    def __init__(self, owner: Deduper, keys: Sequence[str | None], fresh: list[bool]) -> None:
        self._owner = owner
        self._held = [k for k, new in zip(keys, fresh, strict=True) if new and k is not None]
        self.fresh = fresh
        self._done: asyncio.Future[None] | None = None
        if self._held:
            self._done = asyncio.get_running_loop().create_future()
            for key in self._held:
                owner.inflight[key] = self._done

    def commit(self) -> None:
        """Mark the fresh keys seen (call only after their records were acknowledged)."""
        self._owner.mark(self._held)
        self.release()

    def release(self) -> None:
        """Let waiting claims go on; without :meth:`commit` the keys stay unseen. Idempotent."""
        if self._done is None:
            return
        for key in self._held:
            if self._owner.inflight.get(key) is self._done:
                del self._owner.inflight[key]
        self._done.set_result(None)
        self._done = None


class Deduper:
    """Seen client ids with expiry, plus the ids whose attempt is in flight."""

    def __init__(self, window_s: float, max_keys: int = 2_000_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.max_keys = max_keys
        self._clock = clock
        # Insertion order is expiry order (one window for all), so expiry pops from the front.
        self._seen: dict[str, float] = {}
        self.inflight: dict[str, asyncio.Future[None]] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, key: str) -> bool:
        """True if ``key`` was committed less than ``window_s`` ago."""
        expiry = self._seen.get(key)
        return expiry is not None and expiry > self._clock()

    async def claim(self, keys: Sequence[str | None]) -> Claim:
        """Wait for in-flight attempts on ``keys``, then return which keys are fresh.

        A key repeated within ``keys`` is fresh only at its first position.
        """
        while True:
            waits = {id(f): f for k in keys if k is not None
                     and (f := self.inflight.get(k)) is not None}
            if not waits:
                break
            await asyncio.wait(list(waits.values()))
        taken: set[str] = set()
        fresh: list[bool] = []
        for key in keys:
            if key is None:
                fresh.append(True)
                continue
            fresh.append(key not in taken and not self.seen(key))
            taken.add(key)
        return Claim(self, keys, fresh)

    def mark(self, keys: Sequence[str]) -> None:
        """Record ``keys`` as seen from now on, then forget expired and surplus keys."""
        now = self._clock()
        expiry = now + self.window_s
        for key in keys:
            self._seen.pop(key, None)  # re-insert at the end: its expiry is the latest
            self._seen[key] = expiry
        self._expire(now)

    def _expire(self, now: float) -> None:
        seen = self._seen
        while seen:
            oldest = next(iter(seen))
            if seen[oldest] > now and len(seen) <= self.max_keys:
                return
            del seen[oldest]
