"""The hub's own figures: what came in, what went out, what was dropped, how far behind.

Counters only grow while the hub runs. Per-client counters live on each
:class:`~wall.hub.outbox.Outbox` and are folded into :class:`HubStats` when the client
leaves, so totals cover past and present clients.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from wall.hub.outbox import Outbox

_CLIENT_COUNTERS = ("overflows", "dropped_items", "frames_taken", "items_taken")


def now_ms() -> int:
    """Wall-clock UTC epoch milliseconds."""
    return time.time_ns() // 1_000_000


def rss_mb(pid: int | None = None) -> float:
    """Resident set size of a process (default: this one) in MiB, from ``/proc``."""
    path = f"/proc/{pid or os.getpid()}/status"
    with open(path) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class HubStats:
    """Counters of one hub process."""

    started_ms: int = field(default_factory=now_ms)
    records_in: int = 0
    records_rejected: int = 0
    replayed: int = 0
    connections: int = 0
    auth_failures: int = 0
    commands_accepted: int = 0
    commands_rejected: int = 0
    rate_limited: int = 0  # requests refused by a per-connection limit
    frames_refused: int = 0  # client frames too large or too deep to decode
    retired: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_CLIENT_COUNTERS, 0))

    def add_client_counters(self, outbox: Outbox) -> None:
        """Fold a leaving client's counters into the totals."""
        for name in _CLIENT_COUNTERS:
            self.retired[name] += getattr(outbox, name)

    def figures(self, clients: Iterable[Outbox], keys: dict[str, int], lag: int | None,
                feed_state: str) -> dict[str, Any]:
        """Every figure as plain data (the ``health`` reply and ``/healthz`` body)."""
        clients = list(clients)
        totals = dict(self.retired)
        for outbox in clients:
            for name in _CLIENT_COUNTERS:
                totals[name] += getattr(outbox, name)
        return {
            "feed": feed_state,
            "uptime_s": round((now_ms() - self.started_ms) / 1000, 1),
            "clients": len(clients),
            "connections_total": self.connections,
            "auth_failures": self.auth_failures,
            "records_in": self.records_in,
            "records_rejected": self.records_rejected,
            "records_replayed": self.replayed,
            "messages_out": totals["frames_taken"],
            "items_out": totals["items_taken"],
            "overflows": totals["overflows"],
            "dropped_items": totals["dropped_items"],
            "queued_items": sum(o.pending_items() for o in clients),
            "commands_accepted": self.commands_accepted,
            "commands_rejected": self.commands_rejected,
            "rate_limited": self.rate_limited,
            "frames_refused": self.frames_refused,
            "consumer_lag": lag,
            "keys": keys,
            "rss_mb": round(rss_mb(), 1),
        }
