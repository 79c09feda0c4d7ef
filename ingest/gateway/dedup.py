"""Making client retries safe: ids seen within a window are duplicates.

:class:`Deduper` is an in-memory TTL map owned by one event loop (one gateway process; with
several ``--workers`` each has its own map). Guarantees, for keys claimed on that loop:

* a key is marked seen only by :meth:`Claim.commit`, i.e. after Kafka acknowledged its
  records; a failed attempt leaves it unseen, so the client's retry is produced;
* while an attempt with a key is in flight, a second claim of the same key waits for it and
  then sees the outcome (a duplicate if it was committed), so concurrent retries are not
  produced twice;
* a committed key stays seen for ``window_s`` seconds unless more than ``max_keys`` keys are
  held, in which case the oldest are forgotten first;
* a key claimed with a payload digest that differs from the digest it was committed with (or
  from an earlier position of the same claim) is a *conflict*, not a duplicate
  (:attr:`Claim.conflicts`): the same id was reused for another payload. A key committed or
  claimed without a digest never conflicts.

``None`` keys (inputs without a client id) are never duplicates.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence


class Claim:
    """The outcome of :meth:`Deduper.claim`: which keys are fresh, and their in-flight hold."""

    def __init__(self, owner: Deduper, keys: Sequence[str | None], fresh: list[bool],
                 digests: Sequence[int | None], conflicts: list[int]) -> None:
        self._owner = owner
        held = [(k, d) for k, d, new in zip(keys, digests, fresh, strict=True)
                if new and k is not None]
        self._held = [k for k, _ in held]
        self._digests = [d for _, d in held]
        self.fresh = fresh
        self.conflicts = conflicts  # positions whose key was seen with another payload
        self._done: asyncio.Future[None] | None = None
        if self._held:
            self._done = asyncio.get_running_loop().create_future()
            for key in self._held:
                owner.inflight[key] = self._done

    def commit(self) -> None:
        """Mark the fresh keys seen (call only after their records were acknowledged)."""
        self._owner.mark(self._held, self._digests)
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
        # Each key holds (expiry, payload digest or None).
        self._seen: dict[str, tuple[float, int | None]] = {}
        self.inflight: dict[str, asyncio.Future[None]] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def seen(self, key: str) -> bool:
        """True if ``key`` was committed less than ``window_s`` ago."""
        return self._held(key) is not None

    def _held(self, key: str) -> tuple[float, int | None] | None:
        held = self._seen.get(key)
        return held if held is not None and held[0] > self._clock() else None

    async def claim(self, keys: Sequence[str | None],
                    digests: Sequence[int | None] | None = None) -> Claim:
        """Wait for in-flight attempts on ``keys``, then return which keys are fresh.

        A key repeated within ``keys`` is fresh only at its first position. ``digests`` (one
        per key, None for "not compared") find keys reused for another payload.
        """
        while True:
            waits = {id(f): f for k in keys if k is not None
                     and (f := self.inflight.get(k)) is not None}
            if not waits:
                break
            await asyncio.wait(list(waits.values()))
        sums: Sequence[int | None] = digests if digests is not None else [None] * len(keys)
        taken: dict[str, int | None] = {}
        fresh: list[bool] = []
        conflicts: list[int] = []
        for index, (key, digest) in enumerate(zip(keys, sums, strict=True)):
            if key is None:
                fresh.append(True)
                continue
            held = (None, taken[key]) if key in taken else self._held(key)
            fresh.append(held is None)
            if held is not None and None not in (held[1], digest) and held[1] != digest:
                conflicts.append(index)
            taken.setdefault(key, digest)
        return Claim(self, keys, fresh, sums, conflicts)

    def mark(self, keys: Sequence[str], digests: Sequence[int | None] | None = None) -> None:
        """Record ``keys`` (with their payload digests) as seen from now on, then forget
        expired and surplus keys."""
        now = self._clock()
        expiry = now + self.window_s
        sums: Sequence[int | None] = digests if digests is not None else [None] * len(keys)
        for key, digest in zip(keys, sums, strict=True):
            self._seen.pop(key, None)  # re-insert at the end: its expiry is the latest
            self._seen[key] = (expiry, digest)
        self._expire(now)

    def _expire(self, now: float) -> None:
        seen = self._seen
        while seen:
            oldest = next(iter(seen))
            if seen[oldest][0] > now and len(seen) <= self.max_keys:
                return
            del seen[oldest]
