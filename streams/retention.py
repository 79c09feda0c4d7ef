"""Finished cases leave the worker's memory after a retention period.

The cases table would otherwise grow by every case the street ever had (and recovery would
replay them all). Guarantees of :class:`FinishedCases`:

* only cases in a terminal step (``evaluated``, ``rejected``) are tracked, each with its
  last update time; a case that moves on (nothing leaves a terminal step today) is dropped
  from tracking when it is written again in another step;
* :meth:`FinishedCases.expired` names those last updated at least ``retention_ms`` before
  ``now_ms``, oldest first, at most ``limit`` per call.

The worker removes an expired case from the table and writes a tombstone to its changelog
partition, so a recovering worker does not load it again. ClickHouse keeps all its rows;
an event that still arrives for it is dead-lettered like one for an unknown case.
"""

from __future__ import annotations

from domain.vocab import TERMINAL_STEPS

DAY_MS = 86_400_000


class FinishedCases:
    """Terminal cases by last update time; see the module docstring."""

    def __init__(self) -> None:
        self._updated: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._updated)

    def track(self, case_id: str, step: str, updated_ms: int) -> None:
        """Note the case's state as written to the table."""
        if step in TERMINAL_STEPS:
            self._updated[case_id] = updated_ms
        else:
            self._updated.pop(case_id, None)

    def forget(self, case_id: str) -> None:
        """The case left the table."""
        self._updated.pop(case_id, None)

    def clear(self) -> None:
        """Forget everything (before a rebuild from the table)."""
        self._updated.clear()

    def expired(self, now_ms: int, retention_ms: int, limit: int) -> list[str]:
        """Cases finished at least ``retention_ms`` ago, oldest first, at most ``limit``."""
        cutoff = now_ms - retention_ms
        old = [(ts, case_id) for case_id, ts in self._updated.items() if ts <= cutoff]
        old.sort()
        return [case_id for _, case_id in old[:limit]]
