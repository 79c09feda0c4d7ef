"""What the runner hands events to, and the counts every sink keeps.

A :class:`Sink` takes a chunk of events in stream order and returns only when the chunk
was delivered (or definitively refused); it retries transient failures itself, so the
runner's only job is pacing. :func:`split` sorts a chunk by destination while keeping the
stream order within each destination (a case's steps stay in order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from domain.schemas import CaseEvent, DepartmentRecord, SensorReading
from ingest.simulator.engine import Event


class SinkFatal(RuntimeError):
    """A failure that retrying cannot fix (e.g. the gateway refuses the token)."""


@dataclass
class SinkStats:
    """Running totals: events handed over, accepted, refused (4xx), failures retried."""

    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: int = 0
    retries: int = 0
    rejects_by_reason: dict[str, int] = field(default_factory=dict)

    def reject(self, count: int, reason: str) -> None:
        """Count ``count`` refused events under ``reason``."""
        self.rejected += count
        self.rejects_by_reason[reason] = self.rejects_by_reason.get(reason, 0) + count


class Sink(Protocol):
    """Delivers chunks of events; see the module docstring."""

    stats: SinkStats

    def send(self, events: Sequence[Event]) -> None:
        """Deliver ``events`` (in order); return once delivered or definitively refused."""

    def close(self) -> None:
        """Release connections."""


@dataclass
class Split:
    """One chunk sorted by destination, stream order kept within each list."""

    readings: list[SensorReading] = field(default_factory=list)
    cases: list[CaseEvent] = field(default_factory=list)
    records: dict[str, list[DepartmentRecord]] = field(default_factory=dict)


def split(events: Sequence[Event]) -> Split:
    """Sort ``events`` into readings, case events and records per department."""
    out = Split()
    for event in events:
        if isinstance(event, SensorReading):
            out.readings.append(event)
        elif isinstance(event, CaseEvent):
            out.cases.append(event)
        else:
            out.records.setdefault(event.department or "civil_affairs", []).append(event)
    return out
