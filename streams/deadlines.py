"""The SLA deadline index: which case breaches next, found in O(log n).

The index holds one deadline per open case (the clock that started at ``clock_start_ms``).
It is derived state: :meth:`DeadlineIndex.rebuild` recreates it from the cases table after
recovery or a policy change, so deadlines survive a restart. :meth:`DeadlineIndex.due`
returns every entry whose deadline is at or before ``now_ms`` and re-arms it ``retry_ms``
later, so a breach whose escalation was lost is fired again (the escalation's id is
deterministic, so firing twice applies once); an entry disappears only when the case's clock
changes or stops (:meth:`set`).

Each clock breaches once: a returned :class:`Due` carries the time the breach is recorded at
(``deadline_ms``) — the clock's deadline, or ``now_ms`` when the timer fires more than
``late_ms`` after it (a clock started long ago: a back-dated or very old event, an outage).
The escalation restarts the case's clock at that time (:mod:`streams.case_logic`), so the
next deadline lies one step SLA after it: a stale clock escalates once, then at the SLA's
pace, instead of firing deadline after past deadline on every tick.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Due:
    """A breach to fire: the case, its grid, the clock that breached and the time the breach
    is recorded at (its deadline, or the fire time when the timer was late; ``late_ms`` says
    by how much it missed the deadline then, else 0)."""

    case_id: str
    grid_id: str
    clock_start_ms: int
    deadline_ms: int
    late_ms: int = 0


class DeadlineIndex:
    """A min-heap of (fire time, case) with lazy deletion of superseded entries."""

    def __init__(self, retry_ms: int = 5_000, late_ms: int = 5_000) -> None:
        self.retry_ms = retry_ms
        self.late_ms = late_ms
        self._heap: list[tuple[int, str, int]] = []
        self._current: dict[str, Due] = {}

    def __len__(self) -> int:
        return len(self._current)

    def set(self, case_id: str, grid_id: str, clock_start_ms: int, deadline: int | None
            ) -> None:
        """Record the case's current clock; ``deadline`` None means no clock runs."""
        if deadline is None:
            self._current.pop(case_id, None)
            return
        entry = Due(case_id, grid_id, clock_start_ms, deadline)
        if self._current.get(case_id) == entry:
            return
        self._current[case_id] = entry
        heapq.heappush(self._heap, (deadline, case_id, clock_start_ms))
        if len(self._heap) > 4 * len(self._current) + 1024:
            self._compact()

    def _compact(self) -> None:
        """Drop superseded entries (each case's clock change leaves one in the heap)."""
        self._heap = [(e.deadline_ms, e.case_id, e.clock_start_ms)
                      for e in self._current.values()]
        heapq.heapify(self._heap)

    def rebuild(self, entries: Iterable[tuple[str, str, int, int | None]]) -> None:
        """Replace everything with ``(case_id, grid_id, clock_start_ms, deadline)`` entries."""
        self._heap.clear()
        self._current.clear()
        for case_id, grid_id, clock, deadline in entries:
            self.set(case_id, grid_id, clock, deadline)

    def next_deadline(self) -> int | None:
        """The earliest fire time in the heap (possibly of a superseded entry)."""
        return self._heap[0][0] if self._heap else None

    def due(self, now_ms: int, limit: int | None = None) -> list[Due]:
        """Entries due at ``now_ms``, earliest first; each is re-armed at ``now_ms + retry_ms``.

        With ``limit``, at most that many are returned; the others stay due for the next
        call (after a long outage every open case may be overdue at once). An entry more
        than ``late_ms`` overdue is returned stamped at ``now_ms`` (see the module docstring).
        """
        fired: list[Due] = []
        while self._heap and self._heap[0][0] <= now_ms and (limit is None
                                                             or len(fired) < limit):
            _, case_id, clock = heapq.heappop(self._heap)
            entry = self._current.get(case_id)
            if entry is None or entry.clock_start_ms != clock:
                continue  # superseded
            fired.append(entry)
        for entry in fired:
            heapq.heappush(self._heap, (now_ms + self.retry_ms, entry.case_id,
                                        entry.clock_start_ms))
        return [self._stamped(entry, now_ms) for entry in fired]

    def _stamped(self, entry: Due, now_ms: int) -> Due:
        missed = now_ms - entry.deadline_ms
        if missed <= self.late_ms:
            return entry
        return Due(entry.case_id, entry.grid_id, entry.clock_start_ms, now_ms, missed)
