"""Per-connection rate limits of the hub: token buckets (pure; the clock is injected).

A :class:`TokenBucket` holds at most ``burst`` tokens and gains ``per_s`` tokens a second.
:meth:`TokenBucket.take` either takes ``cost`` tokens and returns 0, or takes nothing and
returns the whole milliseconds until it could (at least 1). A cost above ``burst`` can
never be taken; it answers the time until the bucket is full (so a retry gets a clear
"too much at once" instead of waiting forever: callers keep costs at most ``burst``).

:class:`ClientLimits` is one connection's buckets: ``commands`` (``command`` and ``tune``
messages, one token each) and ``subscribes`` (one token per channel a ``subscribe`` would
send a snapshot of). :meth:`ClientLimits.snapshots_due` says which channels of a
``subscribe`` get a snapshot: those not subscribed yet, and those whose last snapshot was
sent at least ``resubscribe_window_s`` ago; a repeat within the window is answered
without one (the client holds the channel and its deltas keep coming).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

Clock = Callable[[], float]  # seconds, monotonic
_EPSILON = 1e-9  # a token refilled in float steps (0.1 s x 5/s) counts as whole


class TokenBucket:
    """``burst`` tokens at most, refilled at ``per_s`` a second; see the module docstring."""

    def __init__(self, per_s: float, burst: int, clock: Clock = time.monotonic) -> None:
        if per_s <= 0 or burst < 1:
            raise ValueError("per_s must be positive and burst at least 1")
        self.per_s = per_s
        self.burst = burst
        self.clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def _refill(self) -> None:
        now = self.clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.per_s)
        self._at = now

    def take(self, cost: int = 1) -> int:
        """Take ``cost`` tokens (0 returned) or none (ms until it could, at least 1)."""
        self._refill()
        if cost <= self._tokens + _EPSILON:
            self._tokens = max(0.0, self._tokens - cost)
            return 0
        missing = min(float(cost), float(self.burst)) - self._tokens
        return max(1, math.ceil(round(missing / self.per_s * 1000, 6)))


@dataclass
class ClientLimits:
    """One connection's buckets (see the module docstring)."""

    commands: TokenBucket
    subscribes: TokenBucket
    resubscribe_window_s: float = 30.0
    clock: Clock = time.monotonic
    refused: dict[str, int] = field(default_factory=dict)  # refusals per bucket name
    snapshot_at: dict[str, float] = field(default_factory=dict)  # channel -> last sent

    @classmethod
    def of(cls, commands_per_s: float, command_burst: int, subscribes_per_s: float,
           subscribe_burst: int, resubscribe_window_s: float,
           clock: Clock = time.monotonic) -> ClientLimits:
        """Fresh buckets, full."""
        return cls(TokenBucket(commands_per_s, command_burst, clock),
                   TokenBucket(subscribes_per_s, subscribe_burst, clock),
                   resubscribe_window_s, clock)

    def snapshots_due(self, channels: list[str], held: Iterable[str]) -> list[str]:
        """The channels of a subscribe that get a snapshot (see the module docstring)."""
        held = set(held)
        now = self.clock()
        return [c for c in dict.fromkeys(channels) if c not in held
                or now - self.snapshot_at.get(c, -math.inf) >= self.resubscribe_window_s]

    def snapshots_sent(self, channels: list[str]) -> None:
        """Remember that ``channels`` were just owed a snapshot."""
        now = self.clock()
        self.snapshot_at.update(dict.fromkeys(channels, now))

    def take(self, name: str, cost: int = 1) -> int:
        """Take from the bucket ``name`` (``commands``/``subscribes``); see :class:`TokenBucket`."""
        wait_ms = getattr(self, name).take(cost)
        if wait_ms:
            self.refused[name] = self.refused.get(name, 0) + 1
        return wait_ms


def rate_limited_reason(name: str, wait_ms: int) -> str:
    """The ``reason`` of the error frame: ``rate limited: commands, retry in 180 ms``."""
    return f"rate limited: {name}, retry in {wait_ms} ms"
